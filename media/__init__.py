"""Pictures: residents' photos and the three-photo card, shared by every channel.

Neither domain rules nor storage: `media.photos` turns whatever a resident sent into a
clean, small JPEG without metadata (and keeps it by its SHA-256); `media.card` draws the
before / during / after card ("事前、事中、事后三张图") from such photos and the words a
channel passes in. No chat framework and no database are imported here.
"""
