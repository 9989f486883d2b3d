"""`skyfleet user ...` and `skyfleet db ...`: through Flask's CLI runner and as the real console script."""
import re
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from skyfleet import accounts
from skyfleet.extensions import db
from skyfleet.models import User
from tests.helpers import media
from tests.helpers import metadata as mdh
from tests.helpers.apikey_display import assert_key_shown_once, assert_no_part_of_key, expected_fingerprint
from tests.helpers.wire import Sender

SCRIPT = Path(sys.executable).parent / "skyfleet"


def user(app, name):
    with app.app_context():
        return db.session.scalar(select(User).where(User.username == name))


def test_add_user_with_password_from_stdin(app, runner):
    result = runner.invoke(args=["user", "add", "alice", "--password-stdin"], input="long enough pw\n")
    assert result.exit_code == 0, result.output
    assert "created user alice" in result.output
    u = user(app, "alice")
    assert u.is_admin is False and accounts.verify_password(u, "long enough pw")
    assert "long enough pw" not in u.password_hash


def test_add_admin_with_prompt(app, runner):
    result = runner.invoke(args=["user", "add", "root", "--admin"], input="s3cret-pass\ns3cret-pass\n")
    assert result.exit_code == 0, result.output
    assert user(app, "root").is_admin is True


def test_add_rejects_duplicates_short_passwords_and_bad_names(app, runner):
    runner.invoke(args=["user", "add", "bob", "--password-stdin"], input="password1\n")
    dup = runner.invoke(args=["user", "add", "bob", "--password-stdin"], input="password1\n")
    assert dup.exit_code == 1 and "already exists" in dup.output
    short = runner.invoke(args=["user", "add", "carol", "--password-stdin"], input="short\n")
    assert short.exit_code == 1 and "at least 8" in short.output
    bad = runner.invoke(args=["user", "add", "has:colon", "--password-stdin"], input="password1\n")
    assert bad.exit_code == 1 and "username" in bad.output
    assert user(app, "carol") is None


def test_setadmin_and_revoke(app, runner):
    runner.invoke(args=["user", "add", "dave", "--password-stdin"], input="password1\n")
    assert runner.invoke(args=["user", "setadmin", "dave"]).exit_code == 0
    assert user(app, "dave").is_admin is True
    again = runner.invoke(args=["user", "setadmin", "dave"])
    assert "unchanged" in again.output
    assert runner.invoke(args=["user", "setadmin", "dave", "--revoke"]).exit_code == 0
    assert user(app, "dave").is_admin is False
    missing = runner.invoke(args=["user", "setadmin", "nobody"])
    assert missing.exit_code == 1 and "no user named 'nobody'" in missing.output


def test_generated_apikey_is_printed_once_and_authenticates(app, runner, caplog):
    runner.invoke(args=["user", "add", "sync", "--password-stdin"], input="password1\n")
    result = runner.invoke(args=["user", "apikey", "sync"])
    assert result.exit_code == 0, result.output
    key = re.search(r"API key for sync: ([0-9a-f]+)", result.output).group(1)
    assert len(key) == 64
    assert_key_shown_once(key, result.output)
    u = user(app, "sync")
    assert u.api_key_fingerprint == expected_fingerprint(key)
    assert_no_part_of_key(key, u.api_key_encrypted)
    listing = runner.invoke(args=["user", "list"])
    assert f"sync\t-\tkey:{expected_fingerprint(key)}" in listing.output
    assert_no_part_of_key(key, listing.output)
    resp = Sender(app.test_client(), user="sync", key=key).send("PUT", "camera", mdh.camera(), b"")
    assert resp.status_code == 200
    assert_no_part_of_key(key, caplog.text)


def test_apikey_from_stdin_is_idempotent_and_reports_changes(app, runner):
    runner.invoke(args=["user", "add", "sync", "--password-stdin"], input="password1\n")
    key = "ab" * 32
    first = runner.invoke(args=["user", "apikey", "sync", "--stdin"], input=key + "\n")
    assert first.exit_code == 0 and first.output.strip() == "changed"
    second = runner.invoke(args=["user", "apikey", "sync", "--stdin"], input=key + "\n")
    assert second.exit_code == 0 and second.output.strip() == "unchanged"
    other = runner.invoke(args=["user", "apikey", "sync", "--stdin"], input="cd" * 32 + "\n")
    assert other.output.strip() == "changed"
    assert_no_part_of_key(key, first.output + second.output)
    assert_no_part_of_key("cd" * 32, other.output)
    assert user(app, "sync").api_key_fingerprint == expected_fingerprint("cd" * 32)
    bad = runner.invoke(args=["user", "apikey", "sync", "--stdin"], input="not-a-key\n")
    assert bad.exit_code == 1 and "64 lowercase hexadecimal" in bad.output
    empty = runner.invoke(args=["user", "apikey", "sync", "--stdin"], input="")
    assert empty.exit_code == 1 and "standard input" in empty.output


def test_revoked_key_no_longer_authenticates(app, runner):
    runner.invoke(args=["user", "add", "sync", "--password-stdin"], input="password1\n")
    runner.invoke(args=["user", "apikey", "sync", "--stdin"], input="ef" * 32 + "\n")
    assert runner.invoke(args=["user", "apikey", "sync", "--revoke"]).output.strip() == "changed"
    resp = Sender(app.test_client(), user="sync", key="ef" * 32).send("PUT", "camera", mdh.camera(), b"")
    assert resp.status_code == 401


def test_console_script_works_without_an_activated_venv(console_script, tmp_path):
    """The installed `skyfleet` script runs from a bare PATH: db upgrade, user add, apikey --stdin."""
    run = console_script
    data = tmp_path / "data"
    up = run("db", "upgrade")
    assert up.returncode == 0, up.stderr
    added = run("user", "add", "remote-sync", "--password-stdin", stdin="password123\n")
    assert added.returncode == 0, added.stderr
    changed = run("user", "apikey", "remote-sync", "--stdin", stdin="12" * 32 + "\n")
    assert (changed.returncode, changed.stdout.strip()) == (0, "changed")
    unchanged = run("user", "apikey", "remote-sync", "--stdin", stdin="12" * 32 + "\n")
    assert (unchanged.returncode, unchanged.stdout.strip()) == (0, "unchanged")
    assert (data / "secret.key").stat().st_mode & 0o777 == 0o600
    missing = run("user", "setadmin", "ghost")
    assert missing.returncode == 1 and "no user named 'ghost'" in missing.stderr


def test_bad_settings_file_names_the_key(tmp_path):
    config = tmp_path / "skyfleet.toml"
    config.write_text('data_dir = "/tmp/x"\n[syncapi]\nclock_skew_secondz = 5\n')
    res = subprocess.run([str(SCRIPT), "user", "list"], capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin", "SKYFLEET_CONFIG": str(config)}, timeout=60)
    assert res.returncode == 2
    assert res.stderr.startswith("skyfleet: unknown setting 'syncapi.clock_skew_secondz'")
    assert "Traceback" not in res.stderr


def test_add_with_exist_ok_changes_nothing(app, runner):
    runner.invoke(args=["user", "add", "erin", "--password-stdin"], input="first-password\n")
    again = runner.invoke(args=["user", "add", "erin", "--password-stdin", "--exist-ok"], input="other-password\n")
    assert again.exit_code == 0 and again.output.strip() == "unchanged"
    assert accounts.verify_password(user(app, "erin"), "first-password")
    fresh = runner.invoke(args=["user", "add", "frank", "--password-stdin", "--exist-ok"], input="password-f\n")
    assert fresh.exit_code == 0 and "created user frank" in fresh.output


def test_add_made_meanwhile_by_another_process_is_unchanged_with_exist_ok(app, runner, monkeypatch):
    """Two web nodes of one database adding the same account: the one whose insert loses sees the unique
    constraint, and with --exist-ok that is 'unchanged', not a traceback; without it a one-line error."""
    from sqlalchemy.orm import Session

    from skyfleet import accounts_cli
    original = accounts.add

    def add_while_the_other_node_commits(session, username, password, admin=False):
        added = original(session, username, password, admin=admin)  # checked: no such user yet
        with Session(db.engine) as other_node:
            original(other_node, username, "the-other-nodes-pw")
            other_node.commit()
        return added

    monkeypatch.setattr(accounts_cli.accounts, "add", add_while_the_other_node_commits)
    raced = runner.invoke(args=["user", "add", "gina", "--password-stdin", "--exist-ok"], input="password-g\n")
    assert raced.exit_code == 0 and raced.output.strip() == "unchanged", raced.output
    assert accounts.verify_password(user(app, "gina"), "the-other-nodes-pw")
    plain = runner.invoke(args=["user", "add", "hank", "--password-stdin"], input="password-h\n")
    assert plain.exit_code == 1 and "user 'hank' exists" in plain.output and "Traceback" not in plain.output


def test_asset_latest_prints_the_newest_image(app, runner, sender, camera):
    import json
    none = runner.invoke(args=["asset", "latest"])
    assert none.exit_code == 1 and "no image stored yet" in none.output
    older = sender.send("POST", "image", mdh.asset("image", when=mdh.NIGHT_START), media.fake(".jpg", b"old" * 10))
    assert older.status_code == 200, older.get_json()
    newer = sender.send("POST", "image", mdh.asset("image", when=mdh.NIGHT_START + 60),
                        media.fake(".jpg", b"new" * 10)).get_json()
    out = runner.invoke(args=["asset", "latest", "--kind", "image"])
    assert out.exit_code == 0, out.output
    row = json.loads(out.output)
    assert row["id"] == newer["id"] and row["url"] == newer["url"] and row["utc_offset"] == -18000
