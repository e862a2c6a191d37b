"""Thumbnails and metadata from a file's bytes, in the calling thread (the activity runs this
in a worker thread: Pillow and pdfium release the GIL while they decode and scale, and the
pixel cap bounds the memory a decode may take, which a process pool would not spare us).

The renderer is picked by the type detected from the bytes at upload (never the client's
claim). Every thumbnail is re-encoded from pixels (WebP), so no EXIF, XMP or ICC data of the
original reaches it."""

from __future__ import annotations

import io
import threading
import warnings
from dataclasses import dataclass, field

import pypdfium2 as pdfium
from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
PDF_TYPE = "application/pdf"
THUMBNAIL_TYPE = "image/webp"
#: pdfium is not thread-safe: one document at a time per process.
_PDFIUM = threading.Lock()


class Refused(Exception):
    """Processing refused on purpose (decompression bomb): recorded as ``rejected``."""


class Undecodable(Exception):
    """The bytes are not a decodable file of their type: recorded as ``failed``."""


@dataclass(frozen=True)
class Thumbnail:
    size: int
    width: int
    height: int
    data: bytes


@dataclass
class Rendered:
    width: int
    height: int
    page_count: int | None = None
    thumbnails: list[Thumbnail] = field(default_factory=list)


def renders(content_type: str) -> bool:
    return content_type in IMAGE_TYPES or content_type == PDF_TYPE


def render(data: bytes, content_type: str, sizes: tuple[int, ...], max_pixels: int) -> Rendered:
    if content_type == PDF_TYPE:
        return _pdf(data, sizes, max_pixels)
    return _image(data, content_type, sizes, max_pixels)


def _thumbnails(image: Image.Image, sizes: tuple[int, ...]) -> list[Thumbnail]:
    made = []
    for size in sizes:
        copy = image.copy()
        copy.thumbnail((size, size), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        # A fresh image from pixels: save() is given no exif, so none is written.
        copy.save(out, "WEBP", quality=80, method=4)
        made.append(Thumbnail(size, copy.width, copy.height, out.getvalue()))
    return made


def _image(data: bytes, content_type: str, sizes: tuple[int, ...], max_pixels: int) -> Rendered:
    formats = {"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF", "image/webp": "WEBP"}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[formats[content_type]]) as opened:
                width, height = opened.size  # from the header: nothing decoded yet
                if width * height > max_pixels:
                    raise Refused(
                        f"decompression bomb: {width}x{height} is over {max_pixels} pixels"
                    )
                opened.seek(0)  # an animation's first frame
                opened.draft("RGB", (max(sizes), max(sizes)))  # JPEG: decode at a smaller scale
                frame = ImageOps.exif_transpose(opened)
                pixels = frame.convert("RGBA" if "A" in frame.getbands() else "RGB")
                pixels.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise Refused(f"decompression bomb: {error}") from error
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as error:
        raise Undecodable(f"not a decodable {content_type} image") from error
    return Rendered(width, height, None, _thumbnails(pixels, sizes))


def _pdf(data: bytes, sizes: tuple[int, ...], max_pixels: int) -> Rendered:
    with _PDFIUM:
        try:
            document = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as error:
            raise Undecodable(f"not a readable PDF ({error})") from error
        try:
            pages = len(document)
            if pages == 0:
                raise Undecodable("the PDF has no pages")
            page = document[0]
            points_w, points_h = page.get_size()
            scale = max(sizes) / max(points_w, points_h, 1.0)
            if points_w * scale * points_h * scale > max_pixels:
                raise Refused("decompression bomb: the first page is too large to render")
            image = page.render(scale=scale).to_pil().convert("RGB")
            page.close()
        except pdfium.PdfiumError as error:
            raise Undecodable(f"the PDF's first page cannot be rendered ({error})") from error
        finally:
            document.close()
    return Rendered(round(points_w), round(points_h), pages, _thumbnails(image, sizes))
