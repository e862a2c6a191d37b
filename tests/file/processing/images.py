"""Files the processing tests upload, made here from pixels (no fixture files): a PNG, a JPEG
carrying EXIF with a GPS position, an animated GIF, a PDF of three pages, a PNG that declares
100000x100000 pixels in a few hundred bytes, a truncated PNG, and HTML named like a PNG."""

from __future__ import annotations

import io
import struct
import zlib

import pypdfium2 as pdfium
from PIL import Image

GPS_IFD = 0x8825


def png(width: int = 640, height: int = 480) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 90)).save(out, "PNG")
    return out.getvalue()


def jpeg_with_gps(width: int = 1024, height: int = 768) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "ADX test camera"  # Make
    exif[GPS_IFD] = {1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)}
    out = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 200)).save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (300, 200), color) for color in ((255, 0, 0), (0, 255, 0))]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()


def pdf(pages: int = 3) -> bytes:
    document = pdfium.PdfDocument.new()
    for _ in range(pages):
        document.new_page(595, 842)  # A4 in points
    out = io.BytesIO()
    document.save(out)
    document.close()
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(side: int = 100_000) -> bytes:
    """A valid PNG header declaring ``side`` x ``side`` grey pixels, with a token IDAT."""
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
        + _chunk(b"IEND", b"")
    )


def truncated_png() -> bytes:
    whole = png()
    return whole[: len(whole) // 3]


HTML_AS_PNG = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>\n"
