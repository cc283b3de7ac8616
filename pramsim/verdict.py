"""The verdict channel of `pramsim check --json-out FILE`, which scripts/grade.py reads.

A grader must not trust what a submission's process prints: the submission is Python running in
that process and can print a passing report and leave with os._exit(0). So the grader
(1) passes a random nonce through an inherited pipe whose fd number is in PRAMSIM_NONCE_FD;
`take_nonce` reads it, closes the pipe and removes the variable before the program file is
loaded, so the nonce is in no file, no environment variable and no open fd the submission could
read; (2) reads the verdict from FILE, written atomically at the end of `check` and signed with
the nonce (HMAC-SHA256 in its "mac" field; the nonce itself is never written, so a submission
that reads the genuine verdict, say from an atexit handler, cannot re-sign an edited one), and
accepts it only if the signature holds and the process exited normally with the code the
verdict implies.

Limit: the submission runs in the same process as the checker. With deliberate effort (scanning
the interpreter's objects for the nonce, or patching pramsim's functions from the program file)
it can still forge a verdict; only OS isolation (a container, a separate user) prevents that.
This channel stops the cheap tricks: printing a report, os._exit(0), sys.exit(0), writing or
editing FILE.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
from pathlib import Path
from typing import Any

from . import outfile

from .errors import PramsimError

NONCE_FD_ENV = "PRAMSIM_NONCE_FD"
NONCE_MAX_BYTES = 256


def take_nonce() -> str | None:
    """The grader's nonce, or None when no grader passed one; afterwards neither the variable nor
    the pipe is left for the program to find. Call it before loading the program file."""
    fd_text = os.environ.pop(NONCE_FD_ENV, None)
    if fd_text is None:
        return None
    try:
        fd = int(fd_text)
    except ValueError:
        raise PramsimError(f"{NONCE_FD_ENV}={fd_text!r} is not a file descriptor number",
                           hint="it is set by scripts/grade.py; unset it to run check by hand") from None
    try:
        with os.fdopen(fd, "rb") as pipe:  # closes the fd too
            return pipe.read(NONCE_MAX_BYTES).decode("ascii", "replace").strip()
    except OSError as exc:
        raise PramsimError(f"cannot read the grader's nonce from fd {fd}: {exc.strerror}",
                           hint="it is set by scripts/grade.py; unset it to run check by hand") from None


def write_verdict(path: Path, data: dict[str, Any], nonce: str | None) -> None:
    """Write `data` to `path` as JSON, atomically; signed ("mac") when a grader gave a nonce."""
    payload = {**data, "mac": signature(data, nonce)} if nonce is not None else data
    outfile.write_text(path, json.dumps(payload, indent=2) + "\n")


def signature(data: dict[str, Any], nonce: str) -> str:
    """HMAC-SHA256 of `data`'s canonical JSON (sorted keys), keyed by the nonce. JSON numbers and
    strings read back by Python's json dump to the same text, so a reader can recompute it."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return hmac.new(nonce.encode(), canonical, hashlib.sha256).hexdigest()


def verified(payload: Any, nonce: str) -> dict[str, Any] | None:
    """The verdict without its "mac" if the signature is this nonce's, else None (forged or edited)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("mac"), str):
        return None
    data = {k: v for k, v in payload.items() if k != "mac"}
    return data if hmac.compare_digest(payload["mac"], signature(data, nonce)) else None
