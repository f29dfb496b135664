# -*- coding: utf-8 -*-
'''Fake BlueZ for stretchwatch's integration tests (python-dbusmock template).

Loads dbusmock's stock ``bluez5`` template (adapters, devices) and adds what it lacks, as
rust-stack.md section 2.2 describes: GATT services and characteristics as child objects, a
Connect/Disconnect that set the ``Connected`` property, ``ServicesResolved``, and notifications
sent as ``PropertiesChanged`` signals on the data characteristic. btleplug's real BlueZ backend
cannot tell it from bluetoothd.

Run: python3 -m dbusmock --system --template tests/fake_bluez/stretchwatch_bluez.py \
         -p '{"config": "/path/config.json"}'

config.json:
  {"devices": [{"address": "5A:11:00:00:00:01", "name": "OSP-thigh", "family": "open",
                "service": UUID, "notify": UUID, "write": [UUID...], "read": {UUID: HEX},
                "frames": "/path/thigh.frames"}],
   "drops": [{"address": "5A:11:00:00:00:02", "at_s": 4.0}],
   "status": "/path/status.json"}

A frames file has one notification per line: ``SECONDS HEX`` (time on the shared timeline).
The timeline starts when every device streams (notifications on; open-protocol devices also need
the START write, opcode 0x01) and runs in real time; frames that fall due while a device is not
streaming are lost, like a sensor that keeps measuring through a dropped link. A drop sets
``Connected`` false (and ``Notifying`` false), as a link loss does. The status file receives
counters (frames sent and lost per device) every half second and at the end of the timeline.
'''

import json
import time

import dbus
from gi.repository import GLib

from dbusmock import mockobject
from dbusmock.templates import bluez5
from dbusmock.templates.bluez5 import *  # noqa: F401,F403  (the template's D-Bus methods)

BUS_NAME = 'org.bluez'
MAIN_OBJ = '/'
SYSTEM_BUS = True
IS_OBJECT_MANAGER = True

DEVICE_IFACE = 'org.bluez.Device1'
SERVICE_IFACE = 'org.bluez.GattService1'
CHAR_IFACE = 'org.bluez.GattCharacteristic1'
PROPS_IFACE = 'org.freedesktop.DBus.Properties'

STATE = {'devices': [], 't0': None, 'drops': [], 'status': None, 'done': False}


def _b(v):
    return dbus.Boolean(v, variant_level=1)


def _set(obj, iface, props):
    obj.UpdateProperties(iface, props)


def _connect(device):
    dev = STATE['by_path'][device.path]
    dev['connected'] = True
    _set(device, DEVICE_IFACE, {'Connected': _b(True), 'ServicesResolved': _b(True)})


def _disconnect(device):
    dev = STATE['by_path'][device.path]
    _drop(dev)


def _drop(dev):
    dev['connected'] = False
    dev['notifying'] = False
    dev['started'] = False
    _set(dev['notify_obj'], CHAR_IFACE, {'Notifying': _b(False)})
    _set(dev['obj'], DEVICE_IFACE, {'Connected': _b(False), 'ServicesResolved': _b(False)})


def _start_notify(char):
    dev = STATE['by_char'][char.path]
    dev['notifying'] = True
    if dev['family'] != 'open':
        dev['started'] = True
    _set(char, CHAR_IFACE, {'Notifying': _b(True)})


def _stop_notify(char):
    dev = STATE['by_char'][char.path]
    dev['notifying'] = False
    _set(char, CHAR_IFACE, {'Notifying': _b(False)})


def _write_value(char, value, _options):
    dev = STATE['by_char'][char.path]
    data = bytes(value)
    dev['writes'].append(data.hex())
    if dev['family'] == 'open' and data:
        if data[0] == 0x01:
            dev['started'] = True
        elif data[0] == 0x02:
            dev['started'] = False


def _streaming(dev):
    return dev['connected'] and dev['notifying'] and dev['started']


def _send(dev, payload):
    sig = dbus.lowlevel.SignalMessage(dev['notify_obj'].path, PROPS_IFACE, 'PropertiesChanged')
    sig.append(CHAR_IFACE, {'Value': dbus.Array(payload, signature='y')},
               dbus.Array([], signature='s'), signature='sa{sv}as')
    for location in dev['notify_obj'].locations:
        location[0].send_message(sig)


def _write_status():
    if not STATE['status']:
        return
    status = {'t0_set': STATE['t0'] is not None, 'done': STATE['done'], 'devices': [
        {'address': d['address'], 'sent': d['sent'], 'lost': d['lost'], 'writes': d['writes'],
         'connects': d['connects']} for d in STATE['devices']]}
    with open(STATE['status'] + '.tmp', 'w', encoding='utf-8') as f:
        json.dump(status, f)
    import os
    os.replace(STATE['status'] + '.tmp', STATE['status'])


def _tick():
    devs = STATE['devices']
    if STATE['t0'] is None:
        if devs and all(_streaming(d) for d in devs):
            STATE['t0'] = time.monotonic()
        else:
            return True
    now = time.monotonic() - STATE['t0']
    for drop in STATE['drops']:
        if not drop.get('done') and now >= drop['at_s']:
            drop['done'] = True
            for d in devs:
                if d['address'] == drop['address']:
                    _drop(d)
    remaining = False
    for d in devs:
        frames = d['frames']
        i = d['next']
        while i < len(frames) and frames[i][0] <= now:
            if _streaming(d):
                _send(d, frames[i][1])
                d['sent'] += 1
            else:
                d['lost'] += 1
            i += 1
        d['next'] = i
        remaining = remaining or i < len(frames)
    if not remaining and not STATE['done']:
        STATE['done'] = True
        _write_status()
    return True


def _status_tick():
    _write_status()
    return True


def _connect_counting(device):
    dev = STATE['by_path'][device.path]
    dev['connects'] += 1
    _connect(device)


def load(mock, parameters):
    # The main object is registered only after load(); bluez5's helpers look it up.
    mockobject.objects.setdefault('/', mock)
    bluez5.load(mock, parameters)
    with open(str(parameters['config']), encoding='utf-8') as f:
        cfg = json.load(f)
    STATE['drops'] = cfg.get('drops', [])
    STATE['status'] = cfg.get('status')
    STATE['by_path'] = {}
    STATE['by_char'] = {}
    bluez = mockobject.objects['/org/bluez']
    adapter_path = bluez5.AddAdapter(bluez, 'hci0', 'stretchwatch-test-host')
    adapter = mockobject.objects[adapter_path]
    if not cfg.get('powered', True):
        adapter.props['org.bluez.Adapter1']['Powered'] = dbus.Boolean(False)
    root = mock
    for n, d in enumerate(cfg.get('devices', [])):
        path = bluez5.AddDevice(bluez, 'hci0', d['address'], d['name'])
        obj = mockobject.objects[path]
        obj.props[DEVICE_IFACE]['UUIDs'] = dbus.Array([d['service']], signature='s')
        obj.props[DEVICE_IFACE]['RSSI'] = dbus.Int16(-50 - 5 * n)
        obj.AddMethods(DEVICE_IFACE, [('Connect', '', '', _connect_counting),
                                      ('Disconnect', '', '', _disconnect)])
        svc = path + '/service0010'
        root.AddObject(svc, SERVICE_IFACE, {
            'UUID': dbus.String(d['service'], variant_level=1),
            'Primary': _b(True),
            'Device': dbus.ObjectPath(path, variant_level=1),
            'Includes': dbus.Array([], signature='o', variant_level=1),
        }, [('MockNoop', '', '', '')])  # an interface without methods breaks introspection
        chars = [(d['notify'], ['read', 'notify'])]
        chars += [(u, ['read', 'write', 'write-without-response']) for u in d.get('write', [])]
        chars += [(u, ['read']) for u in d.get('read', {})]
        dev = {'address': d['address'], 'family': d['family'], 'obj': obj, 'connected': False,
               'notifying': False, 'started': False, 'sent': 0, 'lost': 0, 'next': 0,
               'writes': [], 'connects': 0, 'frames': []}
        for k, (uuid, flags) in enumerate(chars):
            cpath = f'{svc}/char{0x11 + 2 * k:04x}'
            value = bytes.fromhex(d.get('read', {}).get(uuid, ''))
            root.AddObject(cpath, CHAR_IFACE, {
                'UUID': dbus.String(uuid, variant_level=1),
                'Service': dbus.ObjectPath(svc, variant_level=1),
                'Value': dbus.Array(value, signature='y', variant_level=1),
                'Notifying': _b(False),
                'Flags': dbus.Array(flags, signature='s', variant_level=1),
            }, [
                ('StartNotify', '', '', _start_notify),
                ('StopNotify', '', '', _stop_notify),
                ('ReadValue', 'a{sv}', 'ay',
                 f'ret = dbus.ByteArray(bytes.fromhex("{value.hex()}"))'),
                ('WriteValue', 'aya{sv}', '', _write_value),
            ])
            STATE['by_char'][cpath] = dev
            if k == 0:
                dev['notify_obj'] = mockobject.objects[cpath]
        with open(d['frames'], encoding='utf-8') as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2:
                    dev['frames'].append((float(parts[0]), bytes.fromhex(parts[1])))
        STATE['by_path'][path] = dev
        STATE['devices'].append(dev)
    GLib.timeout_add(1, _tick)
    GLib.timeout_add(500, _status_tick)
