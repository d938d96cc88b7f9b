"""wechat/crypto.py and wechat/wire.py against Tencent's published vectors and wechatpy as an
independent implementation (wechatpy is used in the tests only)."""

from __future__ import annotations

import base64

import pytest
from wechatpy.crypto import WeChatCrypto as WechatpyMpCrypto
from wechatpy.enterprise.crypto import WeChatCrypto as WechatpyWorkCrypto

from wechat.crypto import (
    BadCiphertext, BadSignature, MessageCrypto, WrongReceiver, aes_key, check_signature, signature,
)
from wechat.wire import BadXml, encrypted_reply, parse_callback, parse_envelope, text_reply

# Tencent's WXBizMsgCrypt sample for the Official Account (Sample.py of the Python download).
MP = dict(token="spamtest", key="abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", appid="wx2c2769f8efd9abc2",
          timestamp="1409735669", nonce="1320562132", msg_signature="5d197aaffba7e9b25a30732f161a50dee96bd5fa",
          encrypt="hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFV"
                  "AFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVtic"
                  "bSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe"
                  "+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumE"
                  "Po5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE=")

# WeCom's vectors as wechatpy's tests carry them (token 123456, corp wx49f0ab532d5d035a).
WORK = dict(token="123456", key="kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR", corpid="wx49f0ab532d5d035a")
WORK_ECHO = dict(msg_signature="dd6b9c95b495b3f7e2901bfbc76c664930ffdb96", timestamp="1411443780", nonce="437374425",
                 echostr="4ByGGj+sVCYcvGeQYhaKIk1o0pQRNbRjxybjTGblXrBaXlTXeOo1+bXFXDQQb1o6co6Yh9Bv41n7hOchLF6p+Q==")
WORK_MESSAGE = dict(
    msg_signature="74d92dfeb87ba7c714f89d98870ae5eb62dff26d", timestamp="1411525903", nonce="461056294",
    encrypt="RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IHCrsTyeDXzF6Bv283d"
            "Gymzxh6ydJRvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaXpXaG4+BiYyolBug/gYNx410cvkKR2/nP"
            "wBiT+P4hIiOAQqGp/TywZBtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHzkVQiMS6td7vXUaWOMZnYZlF3So2SjHnwh4jYFxdgpkHHqIrH"
            "/54SNdshoQgWYEvccTKe7FS709/5t6NMxuGhcUGAPOQipvWTT4dShyqio7mlsl5noTrb++x6En749zCpQVhDpbV6GDnTbcX2e8K9Qa"
            "NWHp91eBdCRxthuL0=")
WORK_REPLY = ("<xml>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[test]]></Content>\n"
              "<FromUserName><![CDATA[wx49f0ab532d5d035a]]></FromUserName>\n<ToUserName><![CDATA[messense]]></ToUserName>\n"
              "<AgentID>1</AgentID>\n<CreateTime>1411525903</CreateTime>\n</xml>")
WORK_REPLY_ENCRYPTED = (
    "9s4gMv99m88kKTh/H8IdkOiMg6bisoy3ypwy9H4hvSPe9nsGaqyw5hhSjdYbcrKk+j3nba4HMOTzHrluLBYqxgNcBqGsL8GqxlhZgURnAtObv"
    "esEl5nZ+uBE8bviY0LWke8Zy9V/QYKxNV2FqllNXcfmstttyIkMKCCmVbCFM2JTF5wY0nFhHZSjPUL2Q1qvSUCUld+/WIXrx0oyKQmpB6o8NRrr"
    "NrsDf03oxI1p9FxUgMnwKKZeOA/uu+2IEvEBtb7muXsVbwbgX05UPPJvFurDXafG0RQyPR+mf1nDnAtQmmNOuiR5MIkdQ39xn1vWwi1O5oazPo"
    "QJz0nTYjxxEE8kv3kFxtAGVRe3ypD3WeK2XeFYFMNMpatF9XiKzHo3")


def mp_crypto() -> MessageCrypto:
    return MessageCrypto(MP["token"], MP["key"], MP["appid"])


def work_crypto() -> MessageCrypto:
    return MessageCrypto(WORK["token"], WORK["key"], WORK["corpid"])


# ------------------------------------------------------------------ Tencent's vectors

def test_tencents_official_account_sample_decrypts():
    message = mp_crypto().open(MP["msg_signature"], MP["timestamp"], MP["nonce"], MP["encrypt"])
    callback = parse_callback("mp", message)
    assert (callback.incoming.user, callback.incoming.text, callback.incoming.msg_id) == (
        "oyORnuP8q7ou2gfYjqLzSIWZf0rs", "abcdteT", "6054768590064713728")
    assert callback.account == "gh_10f6c3c3ac5a"


def test_wecom_echostr_vector_decrypts_to_its_echo():
    v = WORK_ECHO
    assert work_crypto().open(v["msg_signature"], v["timestamp"], v["nonce"], v["echostr"]) == "5927782489442352469"


def test_wecom_message_vector_decrypts():
    v = WORK_MESSAGE
    callback = parse_callback("work", work_crypto().open(v["msg_signature"], v["timestamp"], v["nonce"], v["encrypt"]))
    assert (callback.incoming.user, callback.incoming.text, callback.agent_id) == ("messense", "test", "1")


def test_wecom_reply_vector_encrypts_byte_for_byte_with_its_random_prefix():
    encrypted, msg_signature = work_crypto().seal(WORK_REPLY, "1411525903", "461056294", b"1234567890123456")
    assert encrypted == WORK_REPLY_ENCRYPTED
    assert msg_signature == "407518b7649e86ef23978113f92d27afa9296533"


# ------------------------------------------------------------------ refusals

def test_a_signature_off_by_one_nonce_is_refused():
    v = WORK_ECHO
    with pytest.raises(BadSignature):
        work_crypto().open(v["msg_signature"], v["timestamp"], "437374424", v["echostr"])
    with pytest.raises(BadSignature):
        check_signature("", "a", "b")


def test_a_message_for_another_corp_is_refused_after_decrypting():
    v = WORK_MESSAGE
    other = MessageCrypto(WORK["token"], WORK["key"], "wwsomeoneelse")
    with pytest.raises(WrongReceiver):
        other.open(v["msg_signature"], v["timestamp"], v["nonce"], v["encrypt"])


@pytest.mark.parametrize("garbage", ["not base64!", base64.b64encode(b"x" * 15).decode(),
                                     base64.b64encode(b"\0" * 32).decode(), ""])
def test_garbage_ciphertext_is_refused_not_crashed_on(garbage):
    with pytest.raises(BadCiphertext):
        work_crypto().decrypt(garbage)


def test_the_aes_key_must_be_43_base64_characters():
    assert len(aes_key(MP["key"])) == 32
    for bad in ("short", MP["key"] + "A", "!" * 43):
        with pytest.raises(ValueError):
            aes_key(bad)


def test_signature_sorts_its_parts():
    assert signature("b", "a", "c") == signature("c", "b", "a")


# ------------------------------------------------------------------ against wechatpy

def test_wechatpy_reads_our_encrypted_reply_and_we_read_its_messages():
    ours = mp_crypto()
    theirs = WechatpyMpCrypto(MP["token"], MP["key"], MP["appid"])
    reply = text_reply("o-user", "gh_account", "您好，已收到。]]> 测试", 1409735669)
    encrypted, msg_signature = ours.seal(reply, "1409735669", "77")
    xml = encrypted_reply(encrypted, msg_signature, "1409735669", "77")
    assert theirs.decrypt_message(xml, msg_signature, "1409735669", "77") == reply
    assert parse_callback("mp", reply).incoming.text == "您好，已收到。]]> 测试"  # CDATA split survives

    sent = theirs.encrypt_message(reply, "88", "1409735670")
    envelope = parse_envelope(sent)
    root_sig = sent.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
    assert ours.open(root_sig, "1409735670", "88", envelope.encrypt) == reply


def test_wechatpy_work_and_ours_agree_on_the_echostr():
    theirs = WechatpyWorkCrypto(WORK["token"], WORK["key"], WORK["corpid"])
    v = WORK_ECHO
    assert theirs.check_signature(v["msg_signature"], v["timestamp"], v["nonce"], v["echostr"]) == \
        work_crypto().open(v["msg_signature"], v["timestamp"], v["nonce"], v["echostr"])


# ------------------------------------------------------------------ XML

def test_xml_with_a_doctype_or_entities_is_refused():
    bombs = [
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
        b'<xml><FromUserName>&b;</FromUserName><MsgType>text</MsgType></xml>',
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        b'<xml><FromUserName>&e;</FromUserName><MsgType>text</MsgType></xml>',
        b"<xml><FromUserName>o</FromUserName>", b"<notxml/>", b"<xml>" + b"x" * 70_000 + b"</xml>",
    ]
    for body in bombs:
        with pytest.raises(BadXml):
            parse_callback("mp", body)


def body(inner: str) -> str:
    return (f"<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[o-wang]]></FromUserName>"
            f"<CreateTime>1700000000</CreateTime>{inner}</xml>")


def test_each_kind_of_callback_becomes_an_incoming():
    text = parse_callback("mp", body("<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[路灯坏了]]></Content>"
                                     "<MsgId>101</MsgId>")).incoming
    assert (text.kind, text.text, text.msg_id, text.dedupe_key) == ("text", "路灯坏了", "101", "mp:101")
    image = parse_callback("mp", body("<MsgType><![CDATA[image]]></MsgType><PicUrl><![CDATA[http://p/1.jpg]]></PicUrl>"
                                      "<MediaId><![CDATA[m-1]]></MediaId><MsgId>102</MsgId>")).incoming
    assert (image.kind, image.media_id, image.pic_url) == ("image", "m-1", "http://p/1.jpg")
    place = parse_callback("mp", body("<MsgType><![CDATA[location]]></MsgType><Location_X>39.9087</Location_X>"
                                      "<Location_Y>116.3975</Location_Y><Scale>15</Scale><Label><![CDATA[天安门]]></Label>"
                                      "<MsgId>103</MsgId>")).incoming
    assert (place.lat, place.lon, place.label) == (39.9087, 116.3975, "天安门")
    voice = parse_callback("mp", body("<MsgType><![CDATA[voice]]></MsgType><MediaId><![CDATA[v-1]]></MediaId>"
                                      "<Format><![CDATA[amr]]></Format><Recognition><![CDATA[井盖丢了]]></Recognition>"
                                      "<MsgId>104</MsgId>")).incoming
    assert (voice.kind, voice.media_id, voice.text) == ("voice", "v-1", "井盖丢了")
    click = parse_callback("mp", body("<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[CLICK]]></Event>"
                                      "<EventKey><![CDATA[REPORT]]></EventKey>")).incoming
    assert (click.event, click.event_key, click.msg_id) == ("click", "REPORT", None)
    assert click.dedupe_key == "mp:o-wang:1700000000:click"
    follow = parse_callback("mp", body("<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event>"
                                       "<EventKey><![CDATA[qrscene_INV123]]></EventKey>")).incoming
    assert (follow.event, follow.event_key) == ("subscribe", "qrscene_INV123")
    where = parse_callback("mp", body("<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[LOCATION]]></Event>"
                                      "<Latitude>23.137466</Latitude><Longitude>113.352425</Longitude>"
                                      "<Precision>119.385040</Precision>")).incoming
    assert (where.event, where.lat, where.lon) == ("location", 23.137466, 113.352425)


def test_a_one_time_subscription_event_names_the_accepted_templates():
    callback = parse_callback("mp", body(
        "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe_msg_popup_event]]></Event>"
        "<SubscribeMsgPopupEvent><List><TemplateId><![CDATA[T-ok]]></TemplateId>"
        "<SubscribeStatusString><![CDATA[accept]]></SubscribeStatusString><PopupScene>2</PopupScene></List>"
        "<List><TemplateId><![CDATA[T-no]]></TemplateId>"
        "<SubscribeStatusString><![CDATA[reject]]></SubscribeStatusString><PopupScene>2</PopupScene></List>"
        "</SubscribeMsgPopupEvent>"))
    assert callback.granted_templates == ("T-ok",)
