"""Avatar image intake: format allowlist, limits, metadata stripping, re-encoding and perceptual hash."""

from __future__ import annotations

import hashlib
import random
import struct
import threading
import time
import warnings
import zlib
from io import BytesIO

import anyio
import imagehash
import numpy as np
import pytest
from PIL import ExifTags, Image, ImageCms, ImageDraw, ImageFilter, PngImagePlugin

from registry.avatars import images
from registry.avatars.images import ImageLimits, NormalizedImage, normalize_image, normalize_image_async
from registry.avatars.phash import hamming
from registry.problems import DomainError, ProblemCode

# Metadata keys Pillow exposes in `info` that must never survive normalization.
METADATA_KEYS = ("exif", "icc_profile", "comment", "xmp", "XML:com.adobe.xmp", "Comment", "Author")


def photo(seed: int, size: int = 256) -> Image.Image:
    """A deterministic photo-like RGB picture: gradient, ellipses, blur and sensor noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size]
    base = np.stack([x * 255 // size, y * 255 // size, (x + y) * 127 // size], -1).astype(np.uint8)
    im = Image.fromarray(base, "RGB")
    draw = ImageDraw.Draw(im)
    for _ in range(40):
        x0, y0 = (int(v) for v in rng.integers(0, size, 2))
        w, h = (int(v) for v in rng.integers(size // 20, size // 3, 2))
        draw.ellipse((x0, y0, x0 + w, y0 + h), fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    im = im.filter(ImageFilter.GaussianBlur(2))
    noisy = np.asarray(im).astype(np.int16) + rng.normal(0, 4, (size, size, 3)).astype(np.int16)
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "RGB")


def with_alpha(im: Image.Image) -> Image.Image:
    """A cut-out: an opaque disc on a fully transparent background."""
    mask = Image.new("L", im.size, 0)
    w, h = im.size
    ImageDraw.Draw(mask).ellipse((w // 8, h // 8, w * 7 // 8, h * 7 // 8), fill=255)
    out = im.copy()
    out.putalpha(mask)
    return out


def encode(im: Image.Image, fmt: str, **params: object) -> bytes:
    out = BytesIO()
    im.save(out, fmt, **params)
    return out.getvalue()


def reopen(result: NormalizedImage) -> Image.Image:
    im = Image.open(BytesIO(result.data))
    im.load()
    return im


def refusal(data: bytes, declared: str | None = None, limits: ImageLimits | None = None) -> str:
    with pytest.raises(DomainError) as caught:
        if limits is None:
            normalize_image(data, declared)
        else:
            normalize_image(data, declared, limits)
    [p] = caught.value.problems
    assert p.code is ProblemCode.INVALID_IMAGE
    assert p.field is None
    return p.message


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_header_only(width: int, height: int) -> bytes:
    """A structurally valid PNG whose IHDR claims `width` x `height` but which carries almost no pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + png_chunk(b"IEND", b"")
    )


def srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def assert_no_metadata(result: NormalizedImage, *secrets: bytes) -> None:
    out = reopen(result)
    assert not out.getexif()
    assert not any(key in out.info for key in METADATA_KEYS), out.info
    for secret in secrets:
        assert secret not in result.data


# --- accepted formats and the shape of the result ---------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "declared"),
    [
        ("PNG", "image/png"),
        ("JPEG", "image/jpeg"),
        ("WEBP", "image/webp"),
        ("JPEG", "image/jpg"),
        ("PNG", "IMAGE/PNG; charset=binary"),
        ("PNG", None),
        ("JPEG", "application/octet-stream"),
        ("WEBP", ""),
    ],
)
def test_accepts_png_jpeg_webp_and_reencodes_opaque_to_jpeg(fmt: str, declared: str | None) -> None:
    src = photo(1, 300)
    result = normalize_image(encode(src, fmt), declared)

    assert result.content_type == "image/jpeg"
    assert (result.width, result.height) == (300, 300)
    out = reopen(result)
    assert (out.format, out.mode, out.size) == ("JPEG", "RGB", (300, 300))
    assert result.sha256 == hashlib.sha256(result.data).hexdigest()
    # The hash is taken from the pixels before JPEG encoding; the stored file hashes the same or nearly.
    assert 0 <= result.phash < 2**64
    assert hamming(result.phash, int(str(imagehash.phash(out)), 16)) <= 2


def test_non_square_keeps_its_size() -> None:
    result = normalize_image(encode(photo(2, 400).resize((400, 130)), "PNG"), "image/png")
    assert (result.width, result.height) == (400, 130)
    assert reopen(result).size == (400, 130)


def test_same_input_gives_same_output() -> None:
    data = encode(photo(3), "JPEG")
    assert normalize_image(data, None) == normalize_image(data, None)


@pytest.mark.parametrize(
    "mode",
    ["L", "1", "P", "CMYK", "LA", "I;16"],
)
def test_other_colour_modes_become_rgb(mode: str) -> None:
    src = photo(4).convert(mode) if mode != "I;16" else Image.new("I;16", (200, 200), 40_000)
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    result = normalize_image(encode(src, fmt), None)
    out = reopen(result)
    assert out.mode == "RGB"
    if mode == "I;16":
        # 40000 / 256 = 156: scaled to 8 bits, not clipped to white.
        assert out.getpixel((100, 100)) == pytest.approx((156, 156, 156), abs=2)


# --- transparency -------------------------------------------------------------------------------------


def test_transparent_png_keeps_alpha_as_lossless_webp() -> None:
    src = with_alpha(photo(5))
    result = normalize_image(encode(src, "PNG"), "image/png")

    assert result.content_type == "image/webp"
    out = reopen(result)
    assert (out.format, out.mode) == ("WEBP", "RGBA")
    assert out.getpixel((0, 0))[3] == 0
    # Lossless: every visible pixel survives exactly.
    assert out.getpixel((128, 128)) == src.getpixel((128, 128))
    assert np.array_equal(np.asarray(out.getchannel("A")), np.asarray(src.getchannel("A")))


def test_palette_png_with_transparency_keeps_alpha() -> None:
    src = with_alpha(photo(6)).convert("P")  # RGBA -> P keeps a transparent palette entry
    assert "transparency" in Image.open(BytesIO(encode(src, "PNG"))).info
    result = normalize_image(encode(src, "PNG"), None)
    out = reopen(result)
    assert (result.content_type, out.mode) == ("image/webp", "RGBA")
    assert out.getpixel((0, 0))[3] == 0


def test_transparent_webp_keeps_alpha() -> None:
    result = normalize_image(encode(with_alpha(photo(7)), "WEBP", lossless=True), "image/webp")
    assert result.content_type == "image/webp"
    assert reopen(result).getpixel((0, 0))[3] == 0


def test_alpha_channel_that_is_fully_opaque_becomes_jpeg() -> None:
    src = photo(8).convert("RGBA")
    result = normalize_image(encode(src, "PNG"), "image/png")
    assert result.content_type == "image/jpeg"
    assert reopen(result).mode == "RGB"


def test_phash_of_cutout_ignores_colour_hidden_under_transparency() -> None:
    cutout = with_alpha(photo(9))
    hidden = np.asarray(cutout).copy()
    hidden[hidden[..., 3] == 0, :3] = (255, 0, 255)  # different junk under alpha 0
    other = Image.fromarray(hidden, "RGBA")
    a = normalize_image(encode(cutout, "PNG"), None).phash
    b = normalize_image(encode(other, "PNG"), None).phash
    assert a == b


# --- metadata -----------------------------------------------------------------------------------------


def test_jpeg_exif_orientation_is_applied_and_all_exif_dropped() -> None:
    upright = Image.new("RGB", (300, 200), "red")
    upright.paste(Image.new("RGB", (300, 100), "blue"), (0, 100))  # red on top, blue below
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # as a sideways camera writes it: 200x300
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # "rotate 90 degrees clockwise to display"
    exif[ExifTags.Base.Make] = "SecretCam"
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (31.0, 14.0, 5.5),
        ExifTags.GPS.GPSLongitudeRef: "E",
        ExifTags.GPS.GPSLongitude: (121.0, 28.0, 9.0),
    }
    data = encode(stored, "JPEG", exif=exif, quality=95)
    assert Image.open(BytesIO(data)).getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the input really has GPS

    result = normalize_image(data, "image/jpeg")

    assert (result.width, result.height) == (300, 200)
    out = reopen(result)
    assert out.size == (300, 200)
    red, blue = out.getpixel((150, 30)), out.getpixel((150, 170))
    assert red[0] > 200 and red[2] < 60, red
    assert blue[2] > 200 and blue[0] < 60, blue
    assert_no_metadata(result, b"Exif", b"SecretCam")


def test_jpeg_comment_xmp_and_icc_are_dropped() -> None:
    data = encode(
        photo(10),
        "JPEG",
        comment=b"SECRET-COMMENT",
        xmp=b"<x:xmpmeta>SECRET-XMP</x:xmpmeta>",
        icc_profile=srgb_icc(),
    )
    src_info = Image.open(BytesIO(data)).info
    assert {"comment", "xmp", "icc_profile"} <= src_info.keys()

    assert_no_metadata(normalize_image(data, None), b"SECRET", b"acsp")  # "acsp": ICC profile signature


@pytest.mark.parametrize("transparent", [False, True], ids=["opaque->jpeg", "alpha->webp"])
def test_png_text_chunks_icc_and_exif_are_dropped(transparent: bool) -> None:
    src = with_alpha(photo(11)) if transparent else photo(11)
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "SECRET-TEXT")
    text.add_text("Author", "SECRET-ZTXT", zip=True)
    text.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta>SECRET-XMP</x:xmpmeta>")
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SecretCam"
    data = encode(src, "PNG", pnginfo=text, icc_profile=srgb_icc(), exif=exif)
    assert {"Comment", "icc_profile", "exif"} <= Image.open(BytesIO(data)).info.keys()

    result = normalize_image(data, "image/png")

    assert result.content_type == ("image/webp" if transparent else "image/jpeg")
    assert_no_metadata(result, b"SECRET", b"SecretCam", b"acsp")


def test_webp_exif_and_icc_are_dropped() -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SecretCam"
    data = encode(photo(12), "WEBP", exif=exif, icc_profile=srgb_icc())
    assert_no_metadata(normalize_image(data, "image/webp"), b"SecretCam", b"acsp")


def test_multi_picture_jpeg_keeps_the_first_picture() -> None:
    # MPO: a JPEG with extra stills appended (phone cameras); not animation, so it is accepted.
    first, second = photo(39), photo(40).resize((160, 160))
    data = encode(first, "MPO", save_all=True, append_images=[second])
    assert Image.open(BytesIO(data), formats=["JPEG"]).format == "MPO"
    result = normalize_image(data, "image/jpeg")
    assert (result.width, result.height) == (256, 256)
    expected = normalize_image(encode(first, "JPEG"), None).phash
    assert hamming(result.phash, expected) <= 2


# --- refused formats and labels -----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF", "ICO", "PPM", "TGA"])
def test_other_formats_are_refused(fmt: str) -> None:
    assert "PNG, JPEG or WebP" in refusal(encode(photo(13), fmt))


def test_svg_is_refused() -> None:
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="200" height="200"><script>x()</script></svg>'
    assert "PNG, JPEG or WebP" in refusal(svg, "image/svg+xml")


def test_animated_gif_is_refused() -> None:
    frames = [photo(s).convert("P") for s in (14, 15)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    assert "PNG, JPEG or WebP" in refusal(data, "image/gif")


def test_animated_webp_is_refused() -> None:
    frames = [photo(s) for s in (16, 17)]
    data = encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=100)
    assert Image.open(BytesIO(data)).n_frames == 2
    assert "Animated" in refusal(data, "image/webp")


def test_animated_png_is_refused() -> None:
    frames = [photo(s) for s in (18, 19)]
    data = encode(frames[0], "PNG", save_all=True, append_images=frames[1:], duration=100)
    assert Image.open(BytesIO(data)).n_frames == 2
    assert "Animated" in refusal(data, "image/png")


@pytest.mark.parametrize(
    ("fmt", "declared"),
    [
        ("PNG", "image/jpeg"),
        ("JPEG", "image/png"),
        ("WEBP", "image/png"),
        ("PNG", "image/gif"),
        ("JPEG", "image/svg+xml"),
        ("PNG", "text/html"),
        ("PNG", "application/zip"),
    ],
)
def test_mislabelled_file_is_refused(fmt: str, declared: str) -> None:
    message = refusal(encode(photo(20), fmt), declared)
    assert "declared as" in message and fmt in message


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_trailing_payload_is_accepted_but_never_stored(fmt: str) -> None:
    # Decision: a PNG/JPEG followed by other bytes (a zip polyglot, or a phone's appended motion-photo
    # video after the JPEG EOI) is accepted: only our re-encoded pixels are kept, so the payload is gone.
    payload = b"PK\x03\x04" + b"SECRET-ZIP-PAYLOAD" * 50 + b"PK\x05\x06" + b"\x00" * 18
    result = normalize_image(encode(photo(21), fmt) + payload, None)
    assert b"PK\x03\x04" not in result.data
    assert b"SECRET-ZIP-PAYLOAD" not in result.data
    assert reopen(result).size == (256, 256)


def test_random_bytes_are_refused() -> None:
    noise = random.Random(1).randbytes(5000)
    assert "PNG, JPEG or WebP" in refusal(noise)
    assert "PNG, JPEG or WebP" in refusal(noise, "image/png")


def test_empty_file_is_refused() -> None:
    assert "empty" in refusal(b"", "image/png")


@pytest.mark.parametrize("magic", [b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"RIFF\x00\x00\x00\x00WEBPVP8 "])
def test_magic_bytes_followed_by_garbage_are_refused(magic: bytes) -> None:
    assert "damaged" in refusal(magic + random.Random(2).randbytes(2000))


# --- damaged files ------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
@pytest.mark.parametrize("keep", [0.5, 0.9, 0.99])
def test_truncated_file_is_refused(fmt: str, keep: float) -> None:
    data = encode(photo(22), fmt)
    assert "truncated" in refusal(data[: int(len(data) * keep)])


def test_corrupted_png_crc_is_refused() -> None:
    data = bytearray(encode(photo(23), "PNG"))
    data[60] ^= 0xFF  # inside the first IDAT: its CRC no longer matches
    assert "damaged" in refusal(bytes(data))


def test_fuzzed_inputs_never_leak_decoder_errors() -> None:
    rng = random.Random(3)
    for fmt in ("JPEG", "PNG", "WEBP"):
        original = encode(photo(24, 160), fmt)
        for _ in range(60):
            data = bytearray(original)
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            try:
                normalize_image(bytes(data), None)
            except DomainError as exc:
                assert exc.problems[0].code is ProblemCode.INVALID_IMAGE


# --- limits -------------------------------------------------------------------------------------------


def test_default_limits() -> None:
    assert ImageLimits() == ImageLimits(max_bytes=8 * 1024 * 1024, max_side=4096, min_side=128, max_pixels=4096 * 4096)


def test_over_max_bytes_is_refused_before_parsing() -> None:
    huge = b"\x89PNG\r\n\x1a\n" + b"\x00" * (8 * 1024 * 1024)
    assert "8 MiB" in refusal(huge, "image/png")
    data = encode(photo(25), "PNG")
    assert f"{len(data) - 1} bytes" in refusal(data, None, ImageLimits(max_bytes=len(data) - 1))
    assert normalize_image(data, None, ImageLimits(max_bytes=len(data))).width == 256


@pytest.mark.parametrize("size", [(100, 100), (127, 500), (500, 127)])
def test_too_small_is_refused(size: tuple[int, int]) -> None:
    assert "at least 128" in refusal(encode(photo(26).resize(size), "PNG"))


def test_exactly_min_side_is_accepted() -> None:
    assert normalize_image(encode(photo(27).resize((128, 128)), "JPEG"), None).width == 128


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((30_000, 30_000), "too many pixels"),  # Pillow's own bomb error fires first (> 2x its limit)
        ((10_000, 10_000), "too many pixels"),  # Pillow only warns here; the warning is made an error
        ((5_000, 200), "at most 4096"),  # our side limit, below Pillow's
        ((4097, 4096), "at most 4096"),
    ],
)
def test_huge_header_is_refused_without_decoding(size: tuple[int, int], expected: str) -> None:
    data = png_header_only(*size)
    assert struct.unpack(">II", data[16:24]) == size
    filters_before = list(warnings.filters)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning escaping normalize_image would fail here
        message = refusal(data, "image/png")
    assert time.perf_counter() - started < 0.5  # decoding 900 MP would take seconds and gigabytes
    assert expected in message
    assert warnings.filters == filters_before  # no lasting change to the process-wide filters


def test_max_pixels_is_checked_separately_from_max_side() -> None:
    limits = ImageLimits(max_side=4096, max_pixels=300 * 300)
    assert "at most 90000 pixels" in refusal(encode(photo(28, 310), "PNG"), None, limits)
    assert normalize_image(encode(photo(28, 300), "PNG"), None, limits).width == 300


def test_max_side_is_checked_on_jpeg_too() -> None:
    limits = ImageLimits(max_side=200)
    assert "at most 200" in refusal(encode(photo(29), "JPEG"), None, limits)


# --- perceptual hash ----------------------------------------------------------------------------------


def test_phash_survives_recompression_and_resize() -> None:
    original = photo(30, 512)
    reference = normalize_image(encode(original, "PNG"), None).phash
    variants = [
        encode(original, "JPEG", quality=50),
        encode(original, "JPEG", quality=20),
        encode(original.resize((256, 256), Image.Resampling.LANCZOS), "PNG"),
        encode(original.resize((200, 200), Image.Resampling.BILINEAR), "JPEG", quality=70),
        encode(original, "WEBP", quality=60),
    ]
    for data in variants:
        assert hamming(reference, normalize_image(data, None).phash) <= 4


def test_phash_of_unrelated_images_is_far() -> None:
    hashes = [normalize_image(encode(photo(seed, 256), "JPEG"), None).phash for seed in range(31, 37)]
    for i, a in enumerate(hashes):
        for b in hashes[i + 1 :]:
            assert hamming(a, b) > 12


def test_phash_is_taken_after_exif_rotation() -> None:
    upright = photo(37)
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    sideways = encode(upright.transpose(Image.Transpose.ROTATE_90), "JPEG", exif=exif, quality=95)
    straight = encode(upright, "JPEG", quality=95)
    assert hamming(normalize_image(sideways, None).phash, normalize_image(straight, None).phash) <= 2


# --- async wrapper ------------------------------------------------------------------------------------


async def test_async_matches_sync() -> None:
    data = encode(photo(38), "PNG")
    assert await normalize_image_async(data, "image/png") == normalize_image(data, "image/png")


async def test_async_raises_domain_error() -> None:
    with pytest.raises(DomainError):
        await normalize_image_async(b"not an image", None)


async def test_async_runs_in_threads_with_bounded_concurrency(monkeypatch: pytest.MonkeyPatch) -> None:
    lock = threading.Lock()
    active = peak = 0
    loop_thread = threading.get_ident()

    def slow(data: bytes, declared_type: str | None, limits: ImageLimits) -> NormalizedImage:
        nonlocal active, peak
        assert threading.get_ident() != loop_thread
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.05)
        with lock:
            active -= 1
        return NormalizedImage(data, "image/jpeg", 1, 1, "0" * 64, 0)

    monkeypatch.setattr(images, "normalize_image", slow)
    async with anyio.create_task_group() as tg:
        for _ in range(6):
            tg.start_soon(normalize_image_async, b"x", None)
    assert peak == images.decode_limiter.total_tokens == 2
