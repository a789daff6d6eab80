"""Facts about Azure VM sizes and pools that every Azure runner checks: retired sizes, inter-node limits."""

from __future__ import annotations

import re

from ..errors import RunnerError

#: VM sizes Azure retired (they can no longer be provisioned): pattern -> (series, retired on, what to use).
#: Sources: learn.microsoft.com/azure/virtual-machines/retired-sizes-list and each series' retirement notice.
RETIRED_VM_SIZES: tuple[tuple[re.Pattern[str], str, str, str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), series, date, replacement) for pattern, series, date, replacement in (
        (r"standard_nc(6|12|24|24r)s_v3", "NCv3 (V100)", "2025-09-30",
         "Standard_NC4as_T4_v3 (NCasT4_v3), Standard_NC24ads_A100_v4 (NC A100 v4) or Standard_NC40ads_H100_v5"),
        (r"standard_nc(6|12|24|24r)s_v2", "NCv2 (P100)", "2023-09-06",
         "Standard_NC4as_T4_v3 (NCasT4_v3) or Standard_NC24ads_A100_v4 (NC A100 v4)"),
        (r"standard_nc(6|12|24|24r)(_promo)?", "NC (K80)", "2023-09-06", "Standard_NC4as_T4_v3 (NCasT4_v3)"),
        (r"standard_nd(6|12|24|24r)s", "ND (P40)", "2023-09-06", "Standard_NC24ads_A100_v4 (NC A100 v4)"),
        (r"standard_nv(6|12|24)(_promo)?", "NV (M60)", "2023-09-06", "Standard_NV36ads_A10_v5 (NVadsA10_v5)"),
    ))

#: Pools with inter-node communication: at most this many nodes (Batch-service / user-subscription allocation).
INTER_NODE_LIMIT = {"batch-service": 100, "user-subscription": 80}


def check_vm_size(vm_size: str) -> None:
    """Raise :class:`RunnerError` when ``vm_size`` is a retired Azure size, naming what replaces it.

    Args:
        vm_size: an Azure VM size, e.g. ``Standard_NC4as_T4_v3``.
    """
    for pattern, series, date, replacement in RETIRED_VM_SIZES:
        if pattern.fullmatch(vm_size):
            raise RunnerError(f"resources.vm_size: {vm_size} belongs to the {series} series, retired by Azure on "
                              f"{date} (it can no longer be provisioned); use {replacement}")
