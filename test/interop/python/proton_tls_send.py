"""Sends one message over AMQPS with Qpid Proton: python3 proton_tls_send.py PORT CA [CERT KEY].

Prints 'accepted' when the gateway settles it, or the error; exit 0 only on 'accepted'.
"""
import sys

from proton import Message, SSLDomain
from proton.utils import BlockingConnection

port, ca = sys.argv[1], sys.argv[2]
domain = SSLDomain(SSLDomain.MODE_CLIENT)
domain.set_trusted_ca_db(ca)
domain.set_peer_authentication(SSLDomain.VERIFY_PEER)
if len(sys.argv) > 4:
    domain.set_credentials(sys.argv[3], sys.argv[4], None)
try:
    conn = BlockingConnection("amqps://127.0.0.1:%s" % port, ssl_domain=domain, timeout=5)
    sender = conn.create_sender("tls/amqp")
    sender.send(Message(body="hello over amqps"))
    conn.close()
    print("accepted")
except Exception as err:  # the refusal is the expected outcome of some runs
    print("error: %s" % err)
    sys.exit(1)
