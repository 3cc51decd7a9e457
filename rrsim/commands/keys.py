"""``rrsim keys``: make this machine's CURVE key pair, or let in a worker's public key."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from rrsim.commands.parser import Parser
from rrsim.errors import UserError
from rrsim.remote.keys import allow, allowed_keys, create, default_dir, keys_dir

KEYS_HELP = """\
rrsim keys [--keys DIR]                  make this machine's key pair (once) and allowed/
rrsim keys allow PUBLIC_KEY_FILE [--keys DIR]   let in the worker whose public key that is

On the run host, `rrsim keys` makes the run's key pair; `rrsim --listen` then uses CURVE on
every tcp socket remote workers reach, and lets in only the keys in DIR/allowed (the guide's
Ironhouse pattern).  On a worker's machine, `rrsim keys` makes the worker's pair: copy its
public rrsim.key to the run host and run `rrsim keys allow` there; the worker then joins with
`rrsim worker --key DIR/rrsim.key_secret`.  Files are owner-only (0600, directories 0700).
"""


def keys_command(argv: Sequence[str]) -> int:
    parser = Parser(prog="rrsim keys", description=KEYS_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", nargs="?", choices=["allow"], help="allow: admit a worker's public key")
    parser.add_argument("public_key_file", nargs="?", help="with allow: the worker's public key file (rrsim.key)")
    parser.add_argument("--keys", metavar="DIR", help=f"the keys directory (default: {default_dir()})")
    args = parser.parse_args(argv)
    directory = keys_dir(args.keys)
    if args.action is None:
        if args.public_key_file:
            raise UserError(f"rrsim keys takes no file (did you mean rrsim keys allow {args.public_key_file}?)")
        pair, made = create(directory)
        print(f"{'made' if made else 'kept the existing'} key pair: {pair.public_file} (public), "
              f"{pair.secret_file} (secret, owner-only)")
        print(f"public key: {pair.public.decode()}")
        print(f"allowed keys: {pair.allowed_dir} ({len(allowed_keys(directory))})")
        return 0
    if not args.public_key_file:
        raise UserError("rrsim keys allow needs the worker's public key file: rrsim keys allow PATH/rrsim.key")
    target = allow(directory, Path(args.public_key_file))
    print(f"allowed: {target}")
    return 0
