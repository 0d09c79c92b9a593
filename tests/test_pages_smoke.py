from __future__ import annotations


def test_home_page_answers(client, db):
    response = client.get("/")
    assert response.status_code == 200
    assert b"Hopsbill" in response.content


def test_admin_is_staff_only(client, outsider, staff):
    client.force_login(outsider)
    assert client.get("/admin/").status_code == 302
    client.force_login(staff)
    assert client.get("/admin/").status_code == 200
