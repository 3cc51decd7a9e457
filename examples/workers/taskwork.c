//  The ZeroMQ guide's taskwork.c as an rrsim push-pull worker, changed where marked: its endpoints
//  come from the environment (RRSIM_PULL: one per pusher, separated by spaces, or with bind =
//  "worker" the one to bind), and each message is sent on as it was received.
//  cc -o taskwork taskwork.c -lzmq && rrsim run seed --worker-cmd ./taskwork
#include <zmq.h>
#include <stdlib.h>
#include <string.h>

int main (void)
{
    void *context = zmq_ctx_new ();
    void *receiver = zmq_socket (context, ZMQ_PULL);
    for (char *at = strtok (getenv ("RRSIM_PULL"), " "); at; at = strtok (NULL, " "))     //  changed: was
        (strcmp (getenv ("RRSIM_BIND"), "worker")? zmq_connect: zmq_bind) (receiver, at);  //  "tcp://localhost:5557"
    void *sender = zmq_socket (context, ZMQ_PUSH);
    zmq_connect (sender, getenv ("RRSIM_PUSH"));            //  changed: was "tcp://localhost:5558"
    char buffer [65536];
    while (1) {
        int size = zmq_recv (receiver, buffer, sizeof buffer, 0);
        if (size < 0) break;
        zmq_send (sender, buffer, size > (int) sizeof buffer? sizeof buffer: (size_t) size, 0);  //  the message, not ""
    }
    zmq_close (receiver);
    zmq_close (sender);
    zmq_ctx_destroy (context);
    return 0;
}
