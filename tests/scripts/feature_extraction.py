"""TorchVision's feature-extraction docs example: get_graph_node_names on resnet50, return_nodes given
as full node names, truncated names and function nodes (flatten, a residual add), then the docs'
Resnet50WithFPN (create_feature_extractor + FeaturePyramidNetwork + LastLevelMaxPool) under MaskRCNN.
Inputs are smaller than the docs' 224x224 (and MaskRCNN is told min_size=128) to keep it quick."""
import os

import numpy as np
import torch
from torchvision.models import resnet50
from torchvision.models.detection.backbone_utils import LastLevelMaxPool
from torchvision.models.detection.mask_rcnn import MaskRCNN
from torchvision.models.feature_extraction import create_feature_extractor, get_graph_node_names
from torchvision.ops.feature_pyramid_network import FeaturePyramidNetwork

RTOL = 1e-3


class Resnet50WithFPN(torch.nn.Module):
    def __init__(self):
        super(Resnet50WithFPN, self).__init__()  # noqa: UP008 (as the docs write it)
        # Get a resnet50 backbone
        m = resnet50()
        # Extract 4 main layers (note: MaskRCNN needs this particular name mapping for return nodes)
        self.body = create_feature_extractor(
            m, return_nodes={f'layer{k}': str(v) for v, k in enumerate([1, 2, 3, 4])})
        # Dry run to get number of channels for FPN
        inp = torch.randn(2, 3, 64, 64)
        with torch.no_grad():
            out = self.body(inp)
        in_channels_list = [o.shape[1] for o in out.values()]
        # Build FPN
        self.out_channels = 256
        self.fpn = FeaturePyramidNetwork(
            in_channels_list, out_channels=self.out_channels,
            extra_blocks=LastLevelMaxPool())

    def forward(self, x):
        x = self.body(x)
        x = self.fpn(x)
        return x


def main(state_dir):
    rng = np.random.RandomState(0)
    m = resnet50()
    train_nodes, eval_nodes = get_graph_node_names(resnet50())
    print(len(train_nodes), len(eval_nodes), train_nodes[:4], eval_nodes[-4:])
    print(train_nodes == eval_nodes)

    init = os.path.join(state_dir, "resnet50_init.pth")
    if os.path.exists(init):
        m.load_state_dict(torch.load(init))
    else:
        torch.save(m.state_dict(), init)
    m.eval()

    return_nodes = {
        # node_name: user-specified key for output dict
        'layer1.2.relu_2': 'layer1',
        'layer2.3.relu_2': 'layer2',
        'layer3.5.relu_2': 'layer3',
        'layer4.2.relu_2': 'layer4',
    }
    x = torch.from_numpy(rng.randn(2, 3, 64, 64).astype(np.float32))
    full = create_feature_extractor(m, return_nodes=return_nodes)
    with torch.no_grad():
        full_out = full(x)
    print({k: tuple(v.shape) for k, v in full_out.items()})

    return_nodes = {'layer1': 'layer1', 'layer2': 'layer2', 'layer3': 'layer3', 'layer4': 'layer4',
                    'layer4.2.add': 'last_add', 'flatten': 'pooled', 'fc': 'logits'}
    truncated = create_feature_extractor(m, return_nodes=return_nodes)
    with torch.no_grad():
        out = truncated(x)
        logits = m(x)
    print(list(out), tuple(out['pooled'].shape))
    print(torch.allclose(out['logits'], logits, atol=1e-4), torch.allclose(out['layer4'], full_out['layer4']))

    torch.manual_seed(0)
    model = MaskRCNN(Resnet50WithFPN(), num_classes=91, min_size=128, max_size=160).eval()
    init = os.path.join(state_dir, "maskrcnn_init.pth")
    if os.path.exists(init):
        model.load_state_dict(torch.load(init))
    else:
        torch.save(model.state_dict(), init)
    images = [torch.from_numpy(rng.rand(3, 96, 128).astype(np.float32))]
    with torch.no_grad():
        features = model.backbone(x)
        detections = model(images)
    print({k: tuple(v.shape) for k, v in features.items()})
    print(sorted(detections[0]), len(detections[0]["boxes"]))
    result = {f"full_{k}": v.numpy() for k, v in full_out.items()}
    result.update({f"truncated_{k}": v.numpy() for k, v in out.items()})
    result.update({f"fpn_{k}": v.numpy() for k, v in features.items()})
    result["num_nodes"] = len(train_nodes)
    result["nodes"] = ",".join(train_nodes)
    result["num_detections"] = len(detections[0]["boxes"])
    return result
