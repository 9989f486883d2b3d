"""The admin status page's Storage section: free space and floors, usage per camera, retention in
force, the last prunes and the active alerts."""
from skyfleet.extensions import db
from skyfleet.models import AlertState
from tests.web.conftest import ADMIN, ADMIN_PW, add_user, login

from .conftest import NOW, add_camera, add_image, add_prune


def test_storage_section(app_factory):
    app = app_factory(retention={"images_days": 20, "floor_percent": 5, "floor_mb": 100,
                                 "emergency_floor_percent": 1, "emergency_floor_mb": 10,
                                 "cameras": {"north": {"products_days": 0}}})
    add_user(app, ADMIN, ADMIN_PW, admin=True)
    client = app.test_client()
    assert login(client, ADMIN, ADMIN_PW).status_code == 302
    with app.app_context():
        cam = add_camera("north")
        add_image(cam, NOW, size=3 * 1024 * 1024)
        add_image(cam, NOW, size=1024 * 1024)
        for i in range(12):
            add_prune(cam, "retention", i + 1, 1000, at=NOW.replace(minute=i))
        add_prune(cam, "emergency", 9, 900, undelivered=4, at=NOW.replace(minute=30))
        db.session.add(AlertState(name="disk_floor", subject="/srv/images", active=True, since=NOW,
                                  message="Free space is below the floor."))
        db.session.commit()
    html = client.get("/admin/").get_data(as_text=True)
    section = html.split('data-role="storage"', 1)[1]
    assert "free of" in section and "above the floor" in section
    assert "Floor: 5 % or 100 MiB" in section and "emergency floor: 1 % or 10 MiB" in section
    assert "every camera</td><td>20 days" in section
    assert "camera north</td><td>20 days" in section and "forever" in section
    usage = section.split('data-role="usage"', 1)[1].split("</table>")[0]
    assert "north" in usage and ">2<" in usage and "4.0 MiB" in usage
    prunes = section.split('data-role="prunes"', 1)[1].split("</table>")[0]
    assert prunes.count("<tr>") == 11  # the header and the newest 10
    assert "emergency" in prunes and '<span class="pill warn">4</span>' in prunes
    assert "retention</td><td class=\"num\">1<" not in prunes  # the oldest two are left out
    alerts = section.split('data-role="alerts"', 1)[1]
    assert "disk_floor" in alerts and "Free space is below the floor." in alerts
