"""The model family (paper section 3 and the Table 1 baselines): the base config, the registry,
the protocol and outputs, the shared components (`modules`) and one subpackage per member.

The registry is imported here, so `ModelConfig`'s config hook can look names up whichever
module of the package is imported first, while no member and not the base config imports it.
"""

from mmkp.model import registry as registry
