"""`skyfleet user setactive` and `skyfleet user logout`: the operator's ways to end web sessions."""
import datetime as dt

from skyfleet import accounts
from skyfleet.extensions import db


def add(app, name="erin"):
    with app.app_context():
        user = accounts.add(db.session, name, "a long password")
        db.session.commit()
        accounts.start_session(db.session, user, idle=dt.timedelta(days=1))
        db.session.commit()


def test_logout_counts_the_sessions_it_ends(app, runner):
    add(app)
    assert runner.invoke(args=["user", "logout", "erin"]).output.strip() == "erin: 1 session ended"
    assert runner.invoke(args=["user", "logout", "erin"]).output.strip() == "erin: 0 sessions ended"


def test_setactive_says_when_nothing_changed(app, runner):
    add(app)
    assert runner.invoke(args=["user", "setactive", "erin"]).output.strip() == "erin: activated (unchanged)"
    assert runner.invoke(args=["user", "setactive", "erin", "--deactivate"]).output.strip() == "erin: deactivated"
    with app.app_context():
        assert accounts.get(db.session, "erin").is_active is False


def test_unknown_users_are_named(runner):
    for args in (["user", "logout", "nobody"], ["user", "setactive", "nobody", "--deactivate"]):
        result = runner.invoke(args=args)
        assert result.exit_code == 1 and "no user named 'nobody'" in result.output
