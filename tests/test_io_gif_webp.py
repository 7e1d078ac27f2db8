"""GIF and WebP decoding against torchvision.io on images built here with Pillow (issue 10)."""

import io
import warnings

import numpy as np
import pytest
from PIL import Image

import visionlite as vl
from tests.helpers.refs import require
from visionlite import io as vio

torch = require("torch")
tvio = require("torchvision.io")


def _save(frames, fmt, **kw):
    buf = io.BytesIO()
    frames[0].save(buf, format=fmt, save_all=len(frames) > 1, append_images=frames[1:], **kw)
    return buf.getvalue()


def _rand(seed, shape=(6, 7, 3)):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _animation():
    a = _rand(0)
    b = a.copy()
    b[2:4, 3:5] = [255, 0, 0]  # Pillow stores only the changed rectangle of later frames
    c = b.copy()
    c[0:2, 0:2] = [0, 255, 0]
    return [Image.fromarray(x) for x in (a, b, c)]


GIFS = {
    "solid_red": lambda: _save([Image.new("RGB", (5, 4), (255, 0, 0))], "GIF"),
    "gray": lambda: _save([Image.new("L", (3, 3), 100)], "GIF"),
    "one_frame": lambda: _save([Image.fromarray(_rand(1)).quantize(16)], "GIF"),
    "transparent_bg2": lambda: _save([Image.fromarray(_rand(2)).quantize(8)], "GIF", transparency=3,
                                     background=2),
    "animated": lambda: _save(_animation(), "GIF", duration=40, loop=0),
    "animated_dispose_bg": lambda: _save(_animation(), "GIF", duration=40, disposal=2),
    "animated_transparent": lambda: _save(_animation(), "GIF", duration=40, transparency=0, disposal=2),
}


def _both(data, ours, theirs, *args):
    t = getattr(tvio, theirs)(torch.frombuffer(bytearray(data), dtype=torch.uint8), *args)
    o = getattr(vio, ours)(vl.tensor(np.frombuffer(data, dtype=np.uint8)), *args)
    return o, t


@pytest.mark.parametrize("name", list(GIFS))
@pytest.mark.parametrize("fn", ["decode_image", "decode_gif"])
def test_gif_decodes_like_torchvision(name, fn):
    data = GIFS[name]()
    o, t = _both(data, fn, fn)
    assert tuple(o.shape) == tuple(t.shape) and o.dtype == vl.uint8
    np.testing.assert_array_equal(o.numpy(), t.numpy())


@pytest.mark.parametrize("mode", ["GRAY", "RGB", "RGB_ALPHA"])
def test_gif_ignores_the_read_mode_like_torchvision(mode, tmp_path):
    data = GIFS["animated"]()
    o, t = _both(data, "decode_image", "decode_image", getattr(tvio.ImageReadMode, mode))
    np.testing.assert_array_equal(o.numpy(), t.numpy())
    path = tmp_path / "a.gif"
    path.write_bytes(data)
    np.testing.assert_array_equal(vio.read_image(path).numpy(), tvio.read_image(str(path)).numpy())


def test_solid_red_gif_is_red_not_palette_indices():
    img = vio.decode_gif(vl.tensor(np.frombuffer(GIFS["solid_red"](), dtype=np.uint8)))
    assert tuple(img.shape) == (3, 4, 5)
    assert (img[0] == 255).all() and (img[1:] == 0).all()


WEBPS = {
    "rgb_lossless": lambda: _save([Image.fromarray(_rand(3))], "WEBP", lossless=True),
    "rgba_lossless": lambda: _save([Image.fromarray(_rand(4, (6, 7, 4)))], "WEBP", lossless=True),
    "rgb_lossy": lambda: _save([Image.fromarray(_rand(5, (16, 16, 3)))], "WEBP", quality=80),
}


@pytest.mark.parametrize("mode", ["UNCHANGED", "RGB", "RGB_ALPHA", "GRAY"])
@pytest.mark.parametrize("name", list(WEBPS))
@pytest.mark.parametrize("fn", ["decode_image", "decode_webp"])
def test_webp_decodes_like_torchvision(fn, name, mode):
    data = WEBPS[name]()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # both warn for GRAY: libwebp has no gray output
        o, t = _both(data, fn, fn, getattr(tvio.ImageReadMode, mode))
    assert tuple(o.shape) == tuple(t.shape)
    np.testing.assert_array_equal(o.numpy(), t.numpy())


def test_animated_webp_is_refused_like_torchvision():
    data = _save([Image.new("RGB", (4, 4), (1, 2, 3)), Image.new("RGB", (4, 4), (9, 9, 9))], "WEBP",
                 lossless=True)
    with pytest.raises(RuntimeError, match="Animated webp"):
        tvio.decode_webp(torch.frombuffer(bytearray(data), dtype=torch.uint8))
    with pytest.raises(RuntimeError, match="Animated webp"):
        vio.decode_webp(vl.tensor(np.frombuffer(data, dtype=np.uint8)))


def test_decode_gif_and_webp_refuse_other_formats():
    png = io.BytesIO()
    Image.new("RGB", (2, 2)).save(png, format="PNG")
    data = vl.tensor(np.frombuffer(png.getvalue(), dtype=np.uint8))
    with pytest.raises(RuntimeError, match="expected GIF"):
        vio.decode_gif(data)
    with pytest.raises(RuntimeError, match="expected WEBP"):
        vio.decode_webp(data)
