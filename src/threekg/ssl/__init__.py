"""Self-supervised objectives: the multi-positive NT-Xent loss and the distributed gather.

Method definitions (3KG, SimCLR, CMSC, PCLR) live in ``threekg.ssl.methods``.
"""

from threekg.ssl.distributed import gather_no_grad, gather_with_grad, is_distributed
from threekg.ssl.losses import NTXentLoss, nt_xent

__all__ = ["NTXentLoss", "gather_no_grad", "gather_with_grad", "is_distributed", "nt_xent"]
