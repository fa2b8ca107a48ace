"""Control (finishes): a sensor worker waits in recv() on a UDP socket connected to the
parent's; the parent sends the configuration after 3 s, then joins.

The working form of Spirent/openperf#62 (a UDP exchange on 127.0.0.1 in which the receiver
waits in recvfrom() until the datagram is sent)."""
import multiprocessing as mp
import os
import socket
import time

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def sensor(sock):
    print("sensor configured with", sock.recv(512), flush=True)


if __name__ == "__main__":
    parent_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    parent_sock.bind(("127.0.0.1", 0))
    sensor_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sensor_sock.bind(("127.0.0.1", 0))
    sensor_sock.connect(parent_sock.getsockname())
    parent_sock.connect(sensor_sock.getsockname())
    proc = CTX.Process(target=sensor, args=(sensor_sock,))
    proc.start()
    sensor_sock.close()
    time.sleep(3)
    parent_sock.send(b"rate=100")
    proc.join()
