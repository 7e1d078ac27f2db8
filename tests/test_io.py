"""visionlite.io against torchvision.io: decoded pixels must be equal for every read mode, including
palette, 16-bit and EXIF-rotated images; bad files must fail fast with the file named."""
import io
import pathlib
import struct
import time
import zlib

import numpy as np
import pytest
from PIL import Image

import visionlite as vl
from tests.helpers.refs import require
from visionlite.io import (
    ImageReadMode,
    decode_image,
    decode_jpeg,
    decode_png,
    encode_jpeg,
    encode_png,
    read_file,
    read_image,
    write_file,
    write_jpeg,
    write_png,
)

torch = require("torch")
tvio = require("torchvision.io")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

ASSETS = pathlib.Path(__file__).parent / "assets"
MODES = list(ImageReadMode.__members__.values())[:5]


def png_bytes(arr, color_type, bit_depth=8, palette=None, trns=None, exif=None, claimed_size=None):
    """A minimal PNG writer (filter 0 rows), for the formats Pillow cannot write (16-bit colour);
    ``claimed_size`` writes other dimensions into the header than the pixels have."""
    h, w = arr.shape[:2]
    rows = (arr[y].astype(">u2").tobytes() if bit_depth == 16 else arr[y].tobytes() for y in range(h))
    raw = b"".join(b"\x00" + r for r in rows)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    cw, ch = claimed_size or (w, h)
    ihdr = struct.pack(">IIBBBBB", cw, ch, bit_depth, color_type, 0, 0, 0)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
    if palette is not None:
        out += chunk(b"PLTE", palette.tobytes())
    if trns is not None:
        out += chunk(b"tRNS", trns)
    if exif is not None:
        out += chunk(b"eXIf", exif)
    return out + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def as_tensors(data):
    ours = vl.tensor(np.frombuffer(data, dtype=np.uint8).copy())
    return ours, torch.frombuffer(bytearray(data), dtype=torch.uint8)


def check_same(ours, theirs):
    assert isinstance(ours, vl.Tensor)
    if theirs.dtype == torch.uint16:
        theirs = theirs.to(torch.int32).numpy().astype(np.uint16)
    else:
        theirs = theirs.numpy()
    assert ours.shape == theirs.shape and ours.numpy().dtype == theirs.dtype
    np.testing.assert_array_equal(ours.numpy(), theirs)


def tv_mode(mode):
    return tvio.ImageReadMode(mode.value)


@pytest.fixture(scope="module")
def photo():
    return Image.open(ASSETS / "chelsea.png").convert("RGB")


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.name)
def test_read_png_asset_all_modes(mode):
    path = ASSETS / "coffee.png"
    check_same(read_image(path, mode), tvio.read_image(str(path), tv_mode(mode)))


@pytest.mark.parametrize("mode", [ImageReadMode.UNCHANGED, ImageReadMode.GRAY, ImageReadMode.RGB],
                         ids=lambda m: m.name)
@pytest.mark.parametrize("gray_source", [False, True], ids=["colour", "gray"])
def test_decode_jpeg_matches(mode, gray_source, photo):
    buf = io.BytesIO()
    (photo.convert("L") if gray_source else photo).save(buf, "JPEG", quality=90)
    ours, theirs = as_tensors(buf.getvalue())
    check_same(decode_jpeg(ours, mode), tvio.decode_jpeg(theirs, tv_mode(mode)))
    check_same(decode_image(ours, mode), tvio.decode_image(theirs, tv_mode(mode)))


def test_jpeg_alpha_modes_are_refused(photo):
    buf = io.BytesIO()
    photo.save(buf, "JPEG")
    with pytest.raises(RuntimeError, match="not supported for JPEG"):
        decode_jpeg(as_tensors(buf.getvalue())[0], ImageReadMode.RGB_ALPHA)


@pytest.mark.parametrize("quality", [10, 75, 95])
def test_encode_jpeg_decodes_like_torchvision(quality, photo):
    x = np.asarray(photo).transpose(2, 0, 1).copy()
    ours = encode_jpeg(vl.tensor(x), quality=quality)
    theirs = tvio.encode_jpeg(torch.from_numpy(x), quality=quality)
    assert ours.dtype == vl.uint8 and ours.ndim == 1
    a = tvio.decode_jpeg(torch.from_numpy(ours.numpy())).numpy()
    b = tvio.decode_jpeg(theirs).numpy()
    np.testing.assert_array_equal(a, b)
    gray = encode_jpeg(vl.tensor(x[:1]))
    assert decode_jpeg(gray).shape == (1,) + x.shape[1:]
    assert len(encode_jpeg([vl.tensor(x), vl.tensor(x[:1])])) == 2


def test_png_roundtrip_and_files(tmp_path, photo):
    x = np.asarray(photo).transpose(2, 0, 1).copy()
    for arr in (x, x[:1]):
        data = encode_png(vl.tensor(arr), compression_level=3)
        np.testing.assert_array_equal(decode_png(data).numpy(), arr)
        np.testing.assert_array_equal(tvio.decode_png(torch.from_numpy(data.numpy())).numpy(), arr)
    write_png(vl.tensor(x), tmp_path / "a.png")
    write_jpeg(vl.tensor(x), tmp_path / "a.jpg", quality=88)
    np.testing.assert_array_equal(read_image(tmp_path / "a.png").numpy(), x)
    check_same(read_image(tmp_path / "a.jpg"), tvio.read_image(str(tmp_path / "a.jpg")))
    raw = read_file(tmp_path / "a.png")
    np.testing.assert_array_equal(raw.numpy(), tvio.read_file(str(tmp_path / "a.png")).numpy())
    write_file(tmp_path / "b.bin", raw)
    assert (tmp_path / "b.bin").read_bytes() == (tmp_path / "a.png").read_bytes()


PALETTE = np.random.default_rng(0).integers(0, 256, (16, 3)).astype(np.uint8)
INDICES = np.random.default_rng(1).integers(0, 16, (9, 11)).astype(np.uint8)
TRNS = bytes(np.random.default_rng(2).integers(0, 256, 16).astype(np.uint8))
RGB16 = np.random.default_rng(3).integers(0, 65536, (7, 6, 3)).astype(np.uint16)
RGBA16 = np.random.default_rng(4).integers(0, 65536, (7, 6, 4)).astype(np.uint16)
GRAY16 = np.random.default_rng(5).integers(0, 65536, (7, 6, 1)).astype(np.uint16)
GA16 = np.random.default_rng(6).integers(0, 65536, (7, 6, 2)).astype(np.uint16)
RGB8 = np.random.default_rng(7).integers(0, 256, (13, 17, 3)).astype(np.uint8)
GA8 = np.random.default_rng(8).integers(0, 256, (13, 17, 2)).astype(np.uint8)

PNG_CASES = {
    "palette": (png_bytes(INDICES, 3, palette=PALETTE), MODES[:2] + MODES[3:4]),
    "palette_trns": (png_bytes(INDICES, 3, palette=PALETTE, trns=TRNS), MODES),
    "rgb8": (png_bytes(RGB8, 2), MODES),
    "gray_alpha8": (png_bytes(GA8, 4), MODES),
    "rgb16": (png_bytes(RGB16, 2, 16), MODES),
    "rgba16": (png_bytes(RGBA16, 6, 16), MODES),
    "gray16": (png_bytes(GRAY16, 0, 16), MODES),
    "gray_alpha16": (png_bytes(GA16, 4, 16), MODES),
}


@pytest.mark.parametrize("case,mode", [(c, m) for c, (_, modes) in PNG_CASES.items() for m in modes],
                         ids=lambda v: v if isinstance(v, str) else v.name)
def test_png_kinds_and_modes_match(case, mode):
    data = PNG_CASES[case][0]
    ours, theirs = as_tensors(data)
    check_same(decode_png(ours, mode), tvio.decode_png(theirs, tv_mode(mode)))


def test_palette_without_transparency_gets_opaque_alpha():
    out = decode_png(as_tensors(PNG_CASES["palette"][0])[0], ImageReadMode.RGB_ALPHA).numpy()
    np.testing.assert_array_equal(out[:3].transpose(1, 2, 0), PALETTE[INDICES])
    assert (out[3] == 255).all()


def _exif(orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation(orientation, photo):
    small = photo.resize((40, 30))
    buf = io.BytesIO()
    small.save(buf, "JPEG", exif=_exif(orientation), quality=95)
    ours, theirs = as_tensors(buf.getvalue())
    for flag in (False, True):
        check_same(decode_jpeg(ours, apply_exif_orientation=flag),
                   tvio.decode_jpeg(theirs, apply_exif_orientation=flag))
    png = png_bytes(np.asarray(small), 2, exif=_exif(orientation).tobytes()[6:])
    ours, theirs = as_tensors(png)
    check_same(decode_image(ours, apply_exif_orientation=True),
               tvio.decode_image(theirs, apply_exif_orientation=True))


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_and_corrupt_files_raise_naming_the_file(fmt, tmp_path, photo):
    buf = io.BytesIO()
    photo.save(buf, fmt)
    data = buf.getvalue()
    path = tmp_path / f"cut.{fmt.lower()}"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(RuntimeError, match="cut\\..*truncated or corrupt"):
        read_image(path)
    path.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(RuntimeError, match="cut\\..*not a recognized image"):
        read_image(path)
    with pytest.raises(RuntimeError, match="decode_image"):
        decode_image(vl.tensor(np.frombuffer(data[:100], np.uint8).copy()))


def test_decompression_bomb_is_refused_quickly(tmp_path):
    # a valid header claiming 40000 x 40000 pixels, with almost no data behind it
    header = png_bytes(np.zeros((1, 1, 3), np.uint8), 2, claimed_size=(40000, 40000))
    path = tmp_path / "bomb.png"
    path.write_bytes(header)
    start = time.perf_counter()
    with pytest.raises(RuntimeError, match="bomb\\.png.*MAX_IMAGE_PIXELS"):
        read_image(path)
    assert time.perf_counter() - start < 5


def test_bad_arguments():
    with pytest.raises(FileNotFoundError, match="nope.png"):
        read_image("nope.png")
    with pytest.raises(TypeError, match="uint8"):
        decode_png(vl.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="1-dimensional"):
        decode_png(vl.zeros(2, 2, dtype=vl.uint8))
    with pytest.raises(ValueError, match="channels should be 1 or 3"):
        encode_png(vl.zeros(4, 5, 5, dtype=vl.uint8))
    with pytest.raises(ValueError, match="quality"):
        encode_jpeg(vl.zeros(3, 5, 5, dtype=vl.uint8), quality=0)
    with pytest.raises(RuntimeError, match="expected PNG"):
        buf = io.BytesIO()
        Image.new("RGB", (4, 4)).save(buf, "JPEG")
        decode_png(vl.tensor(np.frombuffer(buf.getvalue(), np.uint8).copy()))
    data = vl.tensor(np.frombuffer(PNG_CASES["rgb8"][0], np.uint8).copy())
    assert decode_image(data, "rgb").shape == (3, 13, 17)


def test_header_larger_than_data_fails_fast(tmp_path):
    path = tmp_path / "short.png"
    path.write_bytes(png_bytes(np.zeros((2, 2, 3), np.uint8), 2, claimed_size=(3000, 2000)))
    start = time.perf_counter()
    with pytest.raises(RuntimeError, match="short\\.png.*truncated or corrupt"):
        read_image(path)
    assert time.perf_counter() - start < 5
