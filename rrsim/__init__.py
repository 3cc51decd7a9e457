"""rrsim: watch real ZeroMQ work distribution, message by message.

Kept import-free on purpose: child processes import ``rrsim.pusher`` and
``rrsim.worker`` and must start fast.
"""

__version__ = "0.1.0"
