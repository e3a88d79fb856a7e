"""Building a custom component's Spec: its channels, the data set's names and one parameters dataclass.

Every custom component's constructor does the same three things once its own checks pass: take
the input channels it was given, make one new output channel per output its Spec declares, and
add the data set's names (`label_key`, ...) and the parameters' execution properties. This module
does them in one place, so a component's `__init__` says only what is its own.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Type, TypeVar

from tfx import types

from components.common.parameters import ComponentParameters

# The execution property every custom component gets: the label, a name of the data set (not a setting).
LABEL_KEY = "label_key"

SpecT = TypeVar("SpecT", bound=types.ComponentSpec)


def component_spec(
    spec_class: Type[SpecT],
    inputs: Mapping[str, Optional[types.BaseChannel]],
    parameters: ComponentParameters,
    **data_names: Any,
) -> SpecT:
    """`spec_class` built from the input channels, a new channel of each declared output's type, and the settings.

    `inputs` maps each input key to its channel (None for an optional input that is not connected);
    `data_names` are the execution properties that describe the data (`label_key`, feature lists
    as JSON text); the parameters add one execution property per setting (None settings left out).
    """
    outputs = {key: types.Channel(type=output.type) for key, output in spec_class.OUTPUTS.items()}
    return spec_class(**inputs, **outputs, **data_names, **parameters.to_exec_properties())
