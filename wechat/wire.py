"""WeChat's XML on the wire: callbacks in, passive replies out.

Parsing goes through defusedxml with DOCTYPEs forbidden: no entity expansion ("billion laughs"),
no external entities, no DTD at all. WeChat never sends one, so a body with a DOCTYPE is refused
(`BadXml`) rather than parsed with the DTD ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from wechat.messages import App, Incoming

MAX_BODY = 64 * 1024  # WeChat's callbacks are a few hundred bytes; a text message is at most 2,048 characters


class BadXml(ValueError):
    """Not a WeChat callback we can read."""


def parse_xml(body: bytes | str) -> Element:
    if len(body) > MAX_BODY:
        raise BadXml("body too large")
    try:
        root = SafeET.fromstring(body, forbid_dtd=True)
    except (DefusedXmlException, SafeET.ParseError, ValueError) as exc:
        raise BadXml(f"unreadable XML: {exc}") from None
    if root.tag != "xml":
        raise BadXml(f"root element is <{root.tag}>, not <xml>")
    return root


def _text(root: Element, name: str) -> str:
    node = root.find(name)
    return (node.text or "").strip() if node is not None else ""


@dataclass(frozen=True)
class Envelope:
    """The outer XML of a safe-mode callback: whom it is for, and the ciphertext."""

    to_user: str
    encrypt: str
    agent_id: str = ""


def parse_envelope(body: bytes | str) -> Envelope:
    root = parse_xml(body)
    encrypt = _text(root, "Encrypt")
    if not encrypt:
        raise BadXml("no <Encrypt> in a safe-mode callback")
    return Envelope(_text(root, "ToUserName"), encrypt, _text(root, "AgentID"))


@dataclass(frozen=True)
class Callback:
    """A decrypted callback: what the user sent, the account it was sent to (the passive reply's
    FromUserName), and the one-time subscriptions it granted, if it is that event."""

    incoming: Incoming
    account: str
    agent_id: str = ""
    granted_templates: tuple[str, ...] = ()


def _float(root: Element, *names: str) -> float | None:
    for name in names:
        value = _text(root, name)
        if value:
            try:
                return float(value)
            except ValueError:
                raise BadXml(f"<{name}> is not a number: {value[:20]!r}") from None
    return None


def parse_callback(app: App, body: bytes | str) -> Callback:
    """A plaintext callback (decrypted, or a plain-mode body) → Callback. Raises BadXml."""
    root = parse_xml(body)
    user, kind = _text(root, "FromUserName"), _text(root, "MsgType").lower()
    if not user or not kind:
        raise BadXml("no FromUserName or MsgType")
    try:
        create_time = int(_text(root, "CreateTime") or "0")
    except ValueError:
        raise BadXml("CreateTime is not a number") from None
    event = _text(root, "Event").lower() if kind == "event" else ""
    if kind == "location":  # a location message: Location_X is the latitude, Location_Y the longitude
        lat, lon = _float(root, "Location_X"), _float(root, "Location_Y")
    elif event == "location":  # the periodic "report location" event: Latitude / Longitude
        lat, lon = _float(root, "Latitude"), _float(root, "Longitude")
    else:
        lat = lon = None
    granted = tuple(
        _text(item, "TemplateId") for item in root.iter("List")
        if _text(item, "SubscribeStatusString").lower() == "accept" and _text(item, "TemplateId"))
    incoming = Incoming(
        app=app, user=user, kind=kind, create_time=create_time, msg_id=_text(root, "MsgId") or None,
        text=_text(root, "Content") if kind == "text" else _text(root, "Recognition"),  # voice: WeChat's transcript
        media_id=_text(root, "MediaId"), pic_url=_text(root, "PicUrl"), lat=lat, lon=lon,
        label=_text(root, "Label"), event=event, event_key=_text(root, "EventKey"))
    return Callback(incoming, _text(root, "ToUserName"), _text(root, "AgentID"), granted)


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def text_reply(to_user: str, from_user: str, text: str, create_time: int) -> str:
    """A passive text reply (plaintext; `encrypted_reply` wraps it in safe mode)."""
    return (f"<xml><ToUserName>{_cdata(to_user)}</ToUserName><FromUserName>{_cdata(from_user)}</FromUserName>"
            f"<CreateTime>{create_time}</CreateTime><MsgType>{_cdata('text')}</MsgType>"
            f"<Content>{_cdata(text)}</Content></xml>")


def encrypted_reply(encrypt: str, msg_signature: str, timestamp: str, nonce: str) -> str:
    return (f"<xml><Encrypt>{_cdata(encrypt)}</Encrypt><MsgSignature>{_cdata(msg_signature)}</MsgSignature>"
            f"<TimeStamp>{timestamp}</TimeStamp><Nonce>{_cdata(nonce)}</Nonce></xml>")
