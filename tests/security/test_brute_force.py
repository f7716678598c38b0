"""Guessing is slowed down: admin logins lock after 10 failures per user name or per client
address (django-axes), and the API answers 429 with Retry-After past 30 failed token
authentications a minute from one address, while a valid token is never refused."""

from __future__ import annotations

import logging

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

from tests.api.fixtures import plugin  # noqa: F401

MEMORY = pytest.mark.parametrize("backend_settings", ["memory"], indirect=True)
LOGIN = "/admin/login/?next=/admin/"
PASSWORD = "a-Long-passphrase-42"
LOCKED = "Too many failed logins for this user name or from this address"


def log_in(client: Client, username: str, password: str):
    return client.post(LOGIN, {"username": username, "password": password, "next": "/admin/"})


@pytest.fixture
def admin_user(db):
    return get_user_model().objects.create_superuser("root", password=PASSWORD)


@MEMORY
def test_ten_wrong_passwords_lock_the_user_name_for_the_cool_off(storage, admin_user, caplog):
    browser = Client(REMOTE_ADDR="198.51.100.7")
    with caplog.at_level(logging.WARNING, logger="axes"):
        for _ in range(9):
            refused = log_in(browser, "root", "wrong")
            assert refused.status_code == 200 and "Please enter the correct username" in refused.content.decode()
        tenth = log_in(browser, "root", "wrong")
    assert tenth.status_code == 429 and LOCKED in tenth.content.decode()
    assert "0:15:00" in tenth.content.decode()  # says how long
    # The lockout is logged, with the user name and address masked (axes' sensitive parameters).
    assert "Locking out" in caplog.text and "after repeated login failures" in caplog.text
    assert "wrong" not in caplog.text and "198.51.100.7" not in caplog.text

    # Now even the right password is refused, from this address and from another one.
    for address in ("198.51.100.7", "203.0.113.9"):
        locked = log_in(Client(REMOTE_ADDR=address), "root", PASSWORD)
        assert locked.status_code == 429 and LOCKED in locked.content.decode(), address
    assert Client(REMOTE_ADDR="203.0.113.9").get("/admin/").status_code == 302  # no session was made


@MEMORY
def test_one_address_guessing_many_names_is_locked_too(storage, admin_user):
    guesser = Client(REMOTE_ADDR="198.51.100.8")
    answers = [log_in(guesser, f"user-{number}", "wrong").status_code for number in range(11)]
    assert answers == [200] * 9 + [429, 429]
    assert log_in(guesser, "root", PASSWORD).status_code == 429  # the address is locked
    accepted = log_in(Client(REMOTE_ADDR="192.0.2.1"), "root", PASSWORD)  # root from elsewhere is not
    assert accepted.status_code == 302 and accepted["Location"] == "/admin/"


@MEMORY
def test_a_success_before_the_limit_starts_the_count_again(storage, admin_user):
    browser = Client(REMOTE_ADDR="198.51.100.9")
    for _ in range(9):
        log_in(browser, "root", "wrong")
    assert log_in(browser, "root", PASSWORD).status_code == 302
    assert log_in(Client(REMOTE_ADDR="198.51.100.9"), "root", "wrong").status_code == 200


@MEMORY
def test_failed_token_authentications_are_throttled_per_address(storage, plugin, settings, caplog):  # noqa: F811
    settings.HOSTFACTORY_AUTH_FAILURES_PER_MINUTE = 30
    guesser = APIClient(REMOTE_ADDR="198.51.100.20")
    with caplog.at_level(logging.WARNING, logger="hostfactory.api"):
        answers = []
        for number in range(32):
            guesser.credentials(HTTP_AUTHORIZATION=f"Token guess{number:036d}")
            answers.append(guesser.get("/api/v1/templates/"))
    assert [a.status_code for a in answers] == [401] * 30 + [429, 429]
    throttled = answers[-1]
    assert throttled.json()["code"] == "throttled" and "failed authentications" in throttled.json()["detail"]
    assert 0 < int(throttled["Retry-After"]) <= 60
    assert "too many failed authentications from 198.51.100.20" in caplog.text
    assert "guess" not in caplog.text  # the tried tokens are never logged

    # Another address is not affected, and a valid token is never refused, even from the guesser's address.
    other = APIClient(REMOTE_ADDR="198.51.100.21")
    other.credentials(HTTP_AUTHORIZATION="Token wrong")
    assert other.get("/api/v1/templates/").status_code == 401
    token = plugin._credentials["HTTP_AUTHORIZATION"]
    same_address = APIClient(REMOTE_ADDR="198.51.100.20", HTTP_AUTHORIZATION=token)
    for _ in range(40):
        response = same_address.post("/api/v1/hostfactory/getAvailableTemplates", {}, format="json")
        assert response.status_code == 200


@MEMORY
def test_x_forwarded_for_does_not_dodge_the_count(storage, settings, db):
    settings.HOSTFACTORY_AUTH_FAILURES_PER_MINUTE = 3
    answers = []
    for number in range(5):
        guesser = APIClient(REMOTE_ADDR="198.51.100.30", HTTP_X_FORWARDED_FOR=f"10.0.0.{number}")
        guesser.credentials(HTTP_AUTHORIZATION="Token wrong")
        answers.append(guesser.get("/api/v1/").status_code)
    assert answers == [401, 401, 401, 429, 429]
