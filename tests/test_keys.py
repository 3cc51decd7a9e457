"""rrsim keys: the key pair and allow-list made owner-only; bad key files refused in one line."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import zmq.auth

from helpers import main_in_process, one_error_line
from rrsim.errors import UserError
from rrsim.remote import keys


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_keys_makes_an_owner_only_pair_once(tmp_path):
    directory = tmp_path / "host"
    result = main_in_process(["keys", "--keys", str(directory)], stand_ins=False)
    assert result.returncode == 0, result.stderr
    pair = keys.find_pair(directory)
    assert pair is not None and pair.public.decode() in result.stdout
    assert mode(directory) == mode(directory / "allowed") == 0o700
    assert mode(pair.secret_file) == mode(pair.public_file) == 0o600
    public, secret = zmq.auth.load_certificate(pair.secret_file)
    assert (public, secret) == (pair.public, pair.secret)
    assert zmq.auth.load_certificate(pair.public_file) == (pair.public, None)
    # A second call keeps the pair: a key already handed to workers must not change under them.
    again, made = keys.create(directory)
    assert not made and again == pair


def test_allow_copies_the_public_key_owner_only(tmp_path):
    host, worker = tmp_path / "host", tmp_path / "worker"
    keys.create(host)
    worker_pair, _ = keys.create(worker)
    result = main_in_process(["keys", "allow", str(worker_pair.public_file), "--keys", str(host)], stand_ins=False)
    assert result.returncode == 0, result.stderr
    allowed = list((host / "allowed").iterdir())
    assert len(allowed) == 1 and mode(allowed[0]) == 0o600
    assert keys.allowed_keys(host) == [worker_pair.public]
    # Allowing the same key twice leaves one file; another worker's rrsim.key does not overwrite it.
    assert keys.allow(host, worker_pair.public_file) == allowed[0]
    other, _ = keys.create(tmp_path / "other")
    keys.allow(host, other.public_file)
    assert sorted(keys.allowed_keys(host)) == sorted([worker_pair.public, other.public])


def test_a_secret_key_is_never_allowed(tmp_path):
    pair, _ = keys.create(tmp_path / "w")
    with pytest.raises(UserError, match="holds a secret key"):
        keys.allow(tmp_path / "host", pair.secret_file)
    assert keys.allowed_keys(tmp_path / "host") == []


@pytest.mark.parametrize("content, needle", [
    (b"not a certificate\n", "not a ZeroMQ certificate"),
    (b'curve\n    public-key = "tooshort"\n', "not 40 characters of Z85"),
    (bytes(range(256)) * 4, "not a ZeroMQ certificate"),
])
def test_bad_public_key_files(tmp_path, content, needle):
    bad = tmp_path / "bad.key"
    bad.write_bytes(content)
    with pytest.raises(UserError, match=needle):
        keys.allow(tmp_path / "host", bad)


def test_bad_keys_command_lines_are_one_line(tmp_path):
    one_error_line(main_in_process(["keys", "allow", str(tmp_path / "missing.key"), "--keys", str(tmp_path)], stand_ins=False),
                          "missing.key", "no such public key file")
    one_error_line(main_in_process(["keys", "allow", "--keys", str(tmp_path)], stand_ins=False), "needs the worker's public key file")
    one_error_line(main_in_process(["keys", "revoke"], stand_ins=False), "invalid choice")


def test_a_secret_file_given_as_the_pair_must_hold_a_secret(tmp_path):
    pair, _ = keys.create(tmp_path / "w")
    with pytest.raises(UserError, match="holds no secret key"):
        keys.load_pair(pair.public_file)
