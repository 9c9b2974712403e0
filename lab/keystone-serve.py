#!/usr/bin/python3
"""Serve Debian's Keystone (python3-keystone) with waitress.

Usage: keystone-serve.py CONFIG HOST PORT. oslo.config reads sys.argv, so the application
is built with an argv of its own; the config file is named through Keystone's environment.
"""
import os
import sys

config, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
os.environ['OS_KEYSTONE_CONFIG_FILES'] = config
sys.argv = [sys.argv[0]]

from keystone.server.wsgi import initialize_public_application  # noqa: E402
import waitress  # noqa: E402

application = initialize_public_application()
# One thread: with more, two of Keystone's SQLite sessions can still collide ("database is locked"
# at once, a WAL snapshot no busy timeout waits out: a 500 in a Tempest tear-down). Its requests
# are short (bcrypt at its cheapest cost), so they queue briefly.
waitress.serve(application, host=host, port=port, threads=1, ident='keystone')
