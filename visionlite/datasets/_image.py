"""Reading one image file for a dataset, with errors that name the file."""
from PIL import Image


def open_image(path, mode=None, what="image"):
    """Read the image file at ``path`` fully into a PIL image, converted to ``mode`` when given.

    ``what`` names the file in errors (e.g. ``"COCO image"``). A damaged file raises OSError naming
    ``path``; so does a broken PNG chunk, for which PIL raises SyntaxError. An image over PIL's pixel
    limit raises ``PIL.Image.DecompressionBombError`` naming ``path`` and the limit. A missing file
    raises FileNotFoundError as ``open`` does.
    """
    with open(path, "rb") as f:
        try:
            img = Image.open(f)
            img.load()  # read now, while the file is open
            return img.convert(mode) if mode else img
        except Image.DecompressionBombError as e:
            # Kept as its own type: callers may catch it, and the fix differs from that of a damaged file.
            raise Image.DecompressionBombError(
                f"{what} {path}: {e} If you trust this file, raise PIL.Image.MAX_IMAGE_PIXELS "
                f"(currently {Image.MAX_IMAGE_PIXELS}) or set it to None.") from e
        except (OSError, SyntaxError) as e:
            # PIL's own message names a file object, or nothing for a truncated file; say which file it was.
            raise OSError(f"cannot read {what} {path}: {e}") from e
