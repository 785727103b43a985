"""A uniform weight soup: the mean of mask networks fine-tuned from the same weights (issue 28).

Wortsman, M., et al. 2022, "Model soups: averaging weights of multiple fine-tuned models improves accuracy
without increasing inference time", ICML. Networks fine-tuned from one start lie in one basin of the loss,
and their mean is often better out of distribution than any of them. Every tensor is averaged, the
batch-norm running statistics included; the step counters are the first network's.

    python experiments/masks/soup.py OUT.pt A.pt B.pt [C.pt ...]
"""

import sys

import torch


def uniform_soup(paths):
    states = [torch.load(p, map_location="cpu", weights_only=True) for p in paths]
    keys = list(states[0])
    if any(list(s) != keys or any(s[k].shape != states[0][k].shape for k in keys) for s in states[1:]):
        raise SystemExit("soup.py: the networks differ in their layers; only fine-tunes of one network mix")
    return {k: (torch.stack([s[k].double() for s in states]).mean(0).to(states[0][k].dtype)
                if states[0][k].is_floating_point() else states[0][k].clone()) for k in keys}


if __name__ == "__main__":
    if len(sys.argv) < 4:
        raise SystemExit(__doc__)
    torch.save(uniform_soup(sys.argv[2:]), sys.argv[1])
