"""WeChat's message signatures and safe-mode encryption (消息加解密), hand-rolled on `cryptography`.

Both platforms sign a callback with SHA1 over the sorted strings token, timestamp, nonce (and, in
safe mode, the `Encrypt` text: `msg_signature`). Safe mode encrypts with AES-256-CBC: the key is the
43-character EncodingAESKey read as base64 (32 bytes), the IV its first 16 bytes, the plaintext

    16 random bytes | length of msg (4 bytes, network order) | msg | appid (mp) or corpid (WeCom)

padded PKCS#7-style to a multiple of 32 bytes (not AES's 16: Tencent's choice), then base64.
Decrypting checks the padding, the length and that the trailing id is ours (`WrongReceiver`
otherwise: a message meant for another account, or a key shared by two).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32  # Tencent pads to 32 bytes


class CryptoError(Exception):
    """The message cannot be trusted: bad signature, bad ciphertext or not meant for us."""


class BadSignature(CryptoError):
    pass


class BadCiphertext(CryptoError):
    pass


class WrongReceiver(CryptoError):
    """Decrypted fine but carries another appid/corpid."""


def signature(*parts: str) -> str:
    """SHA1 over the parts sorted as strings and joined (token, timestamp, nonce[, encrypt])."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def check_signature(expected: str, *parts: str) -> None:
    """Raise BadSignature unless `expected` is the signature of `parts`; constant-time compare."""
    if not hmac.compare_digest(signature(*parts).encode(), (expected or "").lower().encode()):
        raise BadSignature("signature does not match")


def aes_key(encoding_aes_key: str) -> bytes:
    """The 43-character EncodingAESKey → the 32-byte AES key."""
    if len(encoding_aes_key) != 43:
        raise ValueError("an EncodingAESKey has 43 characters")
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except binascii.Error as exc:
        raise ValueError(f"an EncodingAESKey is base64: {exc}") from None
    if len(key) != 32:  # pragma: no cover - 43 valid base64 characters always give 32 bytes
        raise ValueError("an EncodingAESKey decodes to 32 bytes")
    return key


def _pad(data: bytes) -> bytes:
    n = BLOCK - len(data) % BLOCK
    return data + bytes([n]) * n


def _unpad(data: bytes) -> bytes:
    if not data:
        raise BadCiphertext("empty plaintext")
    n = data[-1]
    if not 1 <= n <= BLOCK or n > len(data) or data[-n:] != bytes([n]) * n:
        raise BadCiphertext("bad padding")
    return data[:-n]


class MessageCrypto:
    """One account's safe mode: `token`, `EncodingAESKey`, and the appid (mp) or corpid (WeCom)."""

    def __init__(self, token: str, encoding_aes_key: str, receiver_id: str) -> None:
        self.token = token
        self.key = aes_key(encoding_aes_key)
        self.receiver_id = receiver_id

    def _cipher(self) -> Cipher:
        return Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16]))

    def encrypt(self, message: str, random16: bytes | None = None) -> str:
        """The base64 `Encrypt` text for `message` (random16: tests pin it; None draws fresh bytes)."""
        body = message.encode()
        random16 = os.urandom(16) if random16 is None else random16
        if len(random16) != 16:
            raise ValueError("random16 must be 16 bytes")
        plain = _pad(random16 + struct.pack(">I", len(body)) + body + self.receiver_id.encode())
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()

    def decrypt(self, encrypted: str) -> str:
        """The message inside an `Encrypt` text (or WeCom's encrypted echostr); raises CryptoError."""
        try:
            data = base64.b64decode(encrypted, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BadCiphertext(f"not base64: {exc}") from None
        if not data or len(data) % 16:
            raise BadCiphertext("not whole AES blocks")
        decryptor = self._cipher().decryptor()
        plain = _unpad(decryptor.update(data) + decryptor.finalize())
        if len(plain) < 20:
            raise BadCiphertext("too short")
        (length,) = struct.unpack(">I", plain[16:20])
        if 20 + length > len(plain):
            raise BadCiphertext("length past the end")
        body, receiver = plain[20:20 + length], plain[20 + length:]
        if not hmac.compare_digest(receiver, self.receiver_id.encode()):
            raise WrongReceiver(f"meant for {receiver[:64]!r}, not for us")
        try:
            return body.decode()
        except UnicodeDecodeError:
            raise BadCiphertext("not UTF-8") from None

    def check(self, msg_signature: str, timestamp: str, nonce: str, encrypted: str) -> None:
        """Raise BadSignature unless msg_signature signs (token, timestamp, nonce, encrypted)."""
        check_signature(msg_signature, self.token, timestamp, nonce, encrypted)

    def open(self, msg_signature: str, timestamp: str, nonce: str, encrypted: str) -> str:
        """Check msg_signature, then decrypt."""
        self.check(msg_signature, timestamp, nonce, encrypted)
        return self.decrypt(encrypted)

    def seal(self, message: str, timestamp: str, nonce: str, random16: bytes | None = None) -> tuple[str, str]:
        """(`Encrypt` text, its msg_signature) for a passive reply."""
        encrypted = self.encrypt(message, random16)
        return encrypted, signature(self.token, timestamp, nonce, encrypted)
