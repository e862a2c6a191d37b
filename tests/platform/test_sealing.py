"""The sealing module: values open only with the right key and purpose, any change to the text
is detected, rotation keeps older values readable, and production refuses a generated key."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from services.common.dev_secrets import MissingSecretError
from services.common.sealing import (
    DEV_KEY_FILE,
    PREFIX,
    Sealer,
    SealError,
    SealKeys,
    is_sealed,
    sealer_for,
)
from services.common.settings import ServiceName, Settings
from workflows.auth.mfa_setup import SEALED_CODE


def keys(*kids: str) -> list[dict[str, str]]:
    return [{"kid": kid, "key": base64.b64encode(os.urandom(32)).decode()} for kid in kids]


def sealer(raw: list[dict[str, str]]) -> Sealer:
    return Sealer(SealKeys.parse(raw))


def test_a_sealed_value_opens_with_its_purpose_and_hides_the_plaintext() -> None:
    box = sealer(keys("k1"))
    sealed = box.seal("the-secret-token", "link:verify_email:wf-1")

    # The shape the mfa_setup workflow's validator accepts for a sealed code (it cannot import
    # this module in its sandbox, so it states the shape itself).
    assert sealed.startswith(f"{PREFIX}k1:") and SEALED_CODE.fullmatch(sealed)
    assert "the-secret-token" not in sealed
    assert box.unseal(sealed, "link:verify_email:wf-1") == "the-secret-token"
    assert box.seal("x", "p") != box.seal("x", "p")  # a fresh nonce every time
    assert is_sealed(sealed) and not is_sealed("raw") and not is_sealed(None)


def test_another_purpose_does_not_open_it() -> None:
    box = sealer(keys("k1"))
    sealed = box.seal("the-secret-token", "link:verify_email:wf-1")

    for purpose in ("link:verify_email:wf-2", "link:password_reset:wf-1", ""):
        with pytest.raises(SealError):
            box.unseal(sealed, purpose)


@pytest.mark.parametrize("position", [0, 5, -1])
def test_any_tampering_is_detected(position: int) -> None:
    box = sealer(keys("k1"))
    sealed = box.seal("the-secret-token", "p")
    head, data = sealed[: len(PREFIX) + 3], sealed[len(PREFIX) + 3 :]
    index = position % len(data)
    flipped = "A" if data[index] != "A" else "B"
    tampered = head + data[:index] + flipped + data[index + 1 :]

    with pytest.raises(SealError):
        box.unseal(tampered, "p")
    with pytest.raises(SealError):
        box.unseal(sealed[:-4], "p")  # truncated
    with pytest.raises(SealError):
        box.unseal(f"{PREFIX}k1:", "p")  # empty


def test_a_wrong_or_unknown_key_does_not_open_it() -> None:
    sealed = sealer(keys("k1")).seal("the-secret-token", "p")

    with pytest.raises(SealError):
        sealer(keys("k1")).unseal(sealed, "p")  # same kid, other key material
    with pytest.raises(SealError, match="no seal key"):
        sealer(keys("k2")).unseal(sealed, "p")
    # Claiming another configured key id does not help either.
    two = keys("k1", "k2")
    relabelled = sealer(two[:1]).seal("s", "p").replace(":k1:", ":k2:")
    with pytest.raises(SealError):
        sealer(two).unseal(relabelled, "p")


def test_rotation_keeps_older_values_readable() -> None:
    old, new = keys("2026-01"), keys("2026-06")
    before = sealer(old).seal("sealed before rotation", "p")
    rotated = sealer(old + new)

    after = rotated.seal("sealed after rotation", "p")

    assert after.startswith(f"{PREFIX}2026-06:")  # the last key seals
    assert rotated.unseal(before, "p") == "sealed before rotation"
    assert rotated.unseal(after, "p") == "sealed after rotation"
    with pytest.raises(SealError):
        sealer(old).unseal(after, "p")  # a process without the new key


def test_unseal_or_raw_passes_raw_values_of_older_histories() -> None:
    box = sealer(keys("k1"))
    assert box.unseal_or_raw("raw-token-from-an-old-run", "p") == "raw-token-from-an-old-run"
    assert box.unseal_or_raw(box.seal("s", "p"), "p") == "s"
    with pytest.raises(SealError):  # a sealed value is never passed through unopened
        box.unseal_or_raw(box.seal("s", "p"), "q")
    assert box.unseal_json(box.seal_json(["a", "b"], "codes"), "codes") == ["a", "b"]


@pytest.mark.parametrize(
    "raw",
    [
        [],
        [{"kid": "k1", "key": base64.b64encode(b"short").decode()}],
        [{"kid": "k:1", "key": base64.b64encode(os.urandom(32)).decode()}],
        [{"kid": "k1", "key": "not base64!"}],
        [{"key": base64.b64encode(os.urandom(32)).decode()}],
    ],
)
def test_bad_key_lists_are_refused(raw: list[dict[str, str]]) -> None:
    with pytest.raises(ValueError):
        SealKeys.parse(raw)


def test_the_setting_wins_and_development_generates_one_shared_key(tmp_path: Path) -> None:
    configured = keys("prod-1")
    from_setting = sealer_for(
        Settings(seal_keys=json.dumps(configured), data_dir=tmp_path)  # type: ignore[arg-type]
    )
    assert from_setting.keys.active == "prod-1"
    assert not (tmp_path / "keys").exists()

    one = sealer_for(Settings(data_dir=tmp_path, env="development"))  # type: ignore[arg-type]
    path = tmp_path / "keys" / DEV_KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert one.keys.active == "dev-1"
    # Another process (no cache) reads the same file and opens what this one sealed.
    other = Sealer(SealKeys.parse(json.loads(path.read_text())))
    assert other.unseal(one.seal("shared", "p"), "p") == "shared"


def test_production_refuses_a_generated_key(tmp_path: Path) -> None:
    settings = Settings(env="production", data_dir=tmp_path / "prod")  # type: ignore[arg-type]
    assert "ADX_SEAL_KEYS" in settings.production_problems(ServiceName.auth)
    assert "ADX_SEAL_KEYS" not in settings.production_problems(ServiceName.gateway)
    with pytest.raises(MissingSecretError):
        sealer_for(settings)
    assert not (tmp_path / "prod" / "keys").exists()


def test_mfa_values_open_only_for_their_user_and_kind_and_raw_ones_pass(tmp_path: Path) -> None:
    """The route opens what the MFA activities sealed; values of runs from before sealing (raw)
    pass unchanged; another user's or another kind's sealed value is refused."""
    from temporalio.exceptions import ApplicationError

    from services.auth.mfa.sealed import RECOVERY_CODE, TOTP_SECRET, MfaSeals

    settings = Settings(data_dir=tmp_path, env="test")  # type: ignore[arg-type]
    alice, bob = MfaSeals(settings, "alice"), MfaSeals(settings, "bob")
    sealed = alice.seal(TOTP_SECRET, "JBSWY3DPEHPK3PXP")

    assert alice.open(TOTP_SECRET, sealed) == "JBSWY3DPEHPK3PXP"
    assert alice.open(TOTP_SECRET, "JBSWY3DPEHPK3PXP") == "JBSWY3DPEHPK3PXP"  # an older run
    for other, kind in ((bob, TOTP_SECRET), (alice, RECOVERY_CODE)):
        with pytest.raises(ApplicationError) as refused:
            other.open(kind, sealed)
        assert refused.value.non_retryable
