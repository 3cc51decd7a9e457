"""The ZeroMQ guide's lbworker (lbbroker's worker) as an rrsim lb-broker worker, its protocol
unchanged: its endpoint from the environment, and the request sent back as the reply.
rrsim run seed --pattern lb-broker --worker-cmd 'python3 examples/workers/lbworker.py'"""

import os

import zmq

socket = zmq.Context().socket(zmq.REQ)
socket.connect(os.environ["RRSIM_BROKER"])  # the broker's backend
socket.send(b"READY")  # tell the broker we are ready for work

while True:
    address, empty, request = socket.recv_multipart()
    socket.send_multipart([address, b"", request])  # your work goes before this line; the reply begins with the request
