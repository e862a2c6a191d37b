"""The one start of a sign-up, for the gateway's ``signUp`` and ``POST /auth/register``.

Whatever the address (new, with a sign-up pending, or with an account), the answer does the
same work and nothing else: validate, hash the password (argon2id, in the hashing pool, off the
event loop), start a new ``user_registration`` run with a fresh id. Everything that depends on
the address's state happens in that run, after the answer, so neither the answer nor its timing
tells the states apart (``bench/signup_timing.py``); and the password never enters a workflow
payload, only its hash.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.common.passwords import hash_password
from workflows.auth.user_registration import hashed, registration_input, start_registration

if TYPE_CHECKING:
    from temporalio.client import Client


async def start_sign_up(
    client: Client,
    task_queue: str,
    *,
    email: str,
    password: str,
    display_name: str,
    verification_timeout_seconds: float,
) -> str:
    """Start one sign-up and return its run's workflow id. Raises
    ``InvalidRegistrationError`` (a message fit for a form) before hashing anything, and
    Temporal's ``RPCError`` when the run cannot be started."""
    registration = registration_input(
        email,
        password,
        display_name,
        verification_timeout_seconds=verification_timeout_seconds,
    )
    password_hash = await hash_password(password)
    return await start_registration(client, task_queue, hashed(registration, password_hash))
