"""Answer links (hitl.core.links): what is signed comes back unchanged; a byte changed in the
payload or the signature, another secret, or garbage is refused; expiry is the clock's."""

import uuid

import pytest

from hitl.core.links import BadLink, Link, open_link, sign

SECRET = b"s" * 32


def link(**changes: object) -> Link:
    values: dict[str, object] = {
        "interaction_id": uuid.uuid4(), "receiver": "finance-email", "address": "ana@example.com",
        "action": "choose", "data": {"choice": 2}, "expires": 2_000_000_000, "use": "u1",
    }  # fmt: skip
    return Link(**(values | changes))  # type: ignore[arg-type]


def test_a_signed_link_opens_to_what_was_signed() -> None:
    original = link()
    assert open_link(sign(original, SECRET), SECRET) == original


@pytest.mark.parametrize("position", [0, 5, 20, -30, -1])
def test_a_changed_character_anywhere_is_refused(position: int) -> None:
    token = sign(link(), SECRET)
    index = position % len(token)
    if token[index] == ".":
        index += 1
    swapped = "A" if token[index] != "A" else "B"
    tampered = token[:index] + swapped + token[index + 1 :]
    with pytest.raises(BadLink):
        open_link(tampered, SECRET)


def test_another_action_spliced_in_is_refused() -> None:
    approve = sign(link(action="approve"), SECRET)
    reject = sign(link(action="reject"), SECRET)
    spliced = reject.split(".")[0] + "." + approve.split(".")[1]
    with pytest.raises(BadLink, match="does not match"):
        open_link(spliced, SECRET)


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "é.é", "x" * 5000, "e30.@@@"])
def test_garbage_is_refused(token: str) -> None:
    with pytest.raises(BadLink):
        open_link(token, SECRET)


def test_another_secret_is_refused() -> None:
    with pytest.raises(BadLink):
        open_link(sign(link(), SECRET), b"t" * 32)


def test_expiry_is_checked_against_the_clock() -> None:
    made = link(expires=1000)
    assert not made.expired(999.5)
    assert made.expired(1000)


def test_a_signature_differing_only_in_unused_bits_is_refused() -> None:
    token = sign(link(), SECRET)
    payload, mac = token.split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    # 32 bytes take 43 characters: the last one carries 2 bits of the MAC and 4 unused ones
    same_bits = alphabet[
        (alphabet.index(mac[-1]) & ~0b1111) | ((alphabet.index(mac[-1]) + 1) & 0b1111)
    ]
    with pytest.raises(BadLink, match="not base64"):
        open_link(f"{payload}.{mac[:-1]}{same_bits}", SECRET)
