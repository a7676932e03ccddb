"""An MQTT 5 device made of Debian's python3-paho-mqtt, driven by test/broker/mqtt5-clients.test.ts.

  /usr/bin/python3 paho_v5.py PORT SPEC_JSON

SPEC: {"clientId", "username"?, "password"?, "publishes": [{"topic", "payloadHex", "contentType"?,
"userProperties"?: [[k, v]], "payloadFormatIndicator"?, "messageExpiryInterval"?}], "stay": bool}
Publishes each message at QoS 1, one after the other, and prints one JSON line: the reason code and
Reason String of each PUBACK as received on the wire. paho 1.6 parses both but hands neither to the
application, so the client class records them from the packet it has just read. With "stay", it
then waits for the broker to close the connection and prints the DISCONNECT reason code.
"""
import json
import struct
import sys
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties


class RecordingClient(mqtt.Client):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.acks = {}
        self.disconnect_code = None

    def _handle_pubackcomp(self, cmd):
        packet, length = self._in_packet['packet'], self._in_packet['remaining_length']
        mid, = struct.unpack('!H', packet[:2])
        reason = None
        if length > 3:
            props = Properties(PacketTypes.PUBACK)
            props.unpack(packet[3:])
            reason = getattr(props, 'ReasonString', None)
        self.acks[mid] = [packet[2] if length > 2 else 0, reason]
        return super()._handle_pubackcomp(cmd)

    def _handle_disconnect(self):
        # paho 1.6 reads the reason code only when properties follow it; the byte is there regardless
        packet = self._in_packet['packet']
        self.disconnect_code = packet[0] if len(packet) > 0 else 0
        return super()._handle_disconnect()


def main():
    port, spec = int(sys.argv[1]), json.loads(sys.argv[2])
    client = RecordingClient(client_id=spec['clientId'], protocol=mqtt.MQTTv5)
    if spec.get('username'):
        client.username_pw_set(spec['username'], spec.get('password'))
    connected, closed = threading.Event(), threading.Event()
    client.on_connect = lambda c, u, flags, rc, props=None: connected.set()
    client.on_disconnect = lambda c, u, rc, props=None: closed.set()
    client.connect('127.0.0.1', port, keepalive=30)
    client.loop_start()
    if not connected.wait(10):
        raise SystemExit('no CONNACK')
    mids = []
    for p in spec['publishes']:
        props = Properties(PacketTypes.PUBLISH)
        if 'contentType' in p:
            props.ContentType = p['contentType']
        for k, v in p.get('userProperties', []):
            props.UserProperty = (k, v)
        if 'payloadFormatIndicator' in p:
            props.PayloadFormatIndicator = p['payloadFormatIndicator']
        if 'messageExpiryInterval' in p:
            props.MessageExpiryInterval = p['messageExpiryInterval']
        info = client.publish(p['topic'], bytes.fromhex(p['payloadHex']), qos=1, properties=props)
        info.wait_for_publish(10)
        mids.append(info.mid)
    print(json.dumps({'acks': [client.acks.get(m) for m in mids]}), flush=True)
    if spec.get('stay'):
        closed.wait(30)
        print(json.dumps({'disconnect': client.disconnect_code}), flush=True)
    else:
        client.disconnect()
    client.loop_stop()


main()
