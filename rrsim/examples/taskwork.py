"""The ZeroMQ guide's taskwork.py as an rrsim push-pull worker: its endpoints from the environment,
and each message sent back as received.  rrsim run seed --worker-cmd 'python3 examples/workers/taskwork.py'
(the built-in scenario own-worker runs it as ``{python} -m rrsim.examples.taskwork``)."""

import os

import zmq

context = zmq.Context()
receiver = context.socket(zmq.PULL)  # messages in
for endpoint in os.environ["RRSIM_PULL"].split():
    receiver.bind(endpoint) if os.environ["RRSIM_BIND"] == "worker" else receiver.connect(endpoint)
sender = context.socket(zmq.PUSH)  # each finished message back, unchanged
sender.connect(os.environ["RRSIM_PUSH"])

while True:
    message = receiver.recv()
    sender.send(message)  # your work goes before this line
