"""``visionlite.utils.model_zoo``, as ``torch.utils.model_zoo`` (older scripts' spelling of the hub)."""
from visionlite.hub import load_state_dict_from_url

load_url = load_state_dict_from_url

__all__ = ["load_url"]
