"""``set_image_backend``/``get_image_backend`` and ``set_video_backend``/``get_video_backend``, as at
TorchVision's top level. Images are always read with PIL and videos with PyAV here; the setters accept
TorchVision's names so scripts that call them run unchanged."""

_IMAGE_BACKENDS = ("PIL", "accimage")
_VIDEO_BACKENDS = ("pyav", "video_reader", "cuda")
_image_backend = "PIL"


def set_image_backend(backend):
    """Name the package used to load images: ``"PIL"`` or ``"accimage"`` (recorded; loading is PIL)."""
    global _image_backend
    if backend not in _IMAGE_BACKENDS:
        raise ValueError(f"Invalid backend '{backend}'. Options are 'PIL' and 'accimage'")
    _image_backend = backend


def get_image_backend():
    """The image backend's name (``"PIL"`` unless set otherwise)."""
    return _image_backend


def set_video_backend(backend):
    """Name the package used to decode videos. TorchVision now only decodes with PyAV and ignores this
    call; here ``"pyav"``, ``"video_reader"`` and ``"cuda"`` are accepted and decoding stays PyAV."""
    if backend not in _VIDEO_BACKENDS:
        raise ValueError(f"Invalid video backend '{backend}'. Options are {', '.join(_VIDEO_BACKENDS)}")


def get_video_backend():
    """The video backend's name: always ``"pyav"``."""
    return "pyav"
