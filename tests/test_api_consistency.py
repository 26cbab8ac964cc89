"""One API across estimators: the parameter glossary, keyword-only constructors and
declarative parameter validation, checked on every estimator of ``all_estimators()``.

The glossary itself is in the developers' guide (``docs/developers.rst``,
"Parameter glossary").
"""

from __future__ import annotations

import inspect
import re

import numpy as np
import pytest
from sklearn.base import clone

from skres._base import TorchEstimatorMixin, get_skres_tags
from skres._compat import (
    InvalidParameterError,
    generate_invalid_param_val,
    make_constraint,
)
from skres.utils import all_estimators
from skres.utils._testing import make_instance, make_test_data

ESTIMATORS = [cls for _, cls in all_estimators()]
IDS = [cls.__name__ for cls in ESTIMATORS]

#: Names the glossary replaces (left) by one name per concept (right).
FORBIDDEN = {
    "n_epochs": "max_epochs",
    "epochs": "max_epochs",
    "num_epochs": "max_epochs",
    "n_steps": "max_steps",
    "steps": "max_steps",
    "num_steps": "max_steps",
    "n_iter": "max_iter",
    "n_iters": "max_iter",
    "iterations": "max_iter",
    "l1": "l1_coef",
    "l1_penalty": "l1_coef",
    "l1_ratio": "l1_coef",
    "lambda_l1": "l1_coef",
    "seed": "random_state",
    "rng": "random_state",
    "n_workers": "n_jobs",
    "n_threads": "n_jobs",
    "verbosity": "verbose",
    "quiet": "verbose",
}

#: Estimators whose fit routinely takes more than a few seconds: they take verbose.
SLOW = {
    "BoomerangDistiller",
    "HeadRanker",
    "LatentVectorField",
    "MechanisticODE",
    "NeuralEffectSearch",
    "PDEDiscoverer",
    "ResiDualAligner",
    "ShiftedNodeFinder",
    "SparseAutoencoder",
    "TMEXScorer",
}

#: Estimators with independent units of work (tests, permutations, restarts).
PARALLEL = {"NeuralEffectSearch", "ShiftedNodeFinder", "TMEXScorer"}

#: First parameters that may be positional, as in scikit-learn (a wrapped estimator,
#: ``n_components`` as in PCA).
POSITIONAL_OK = {"estimator", "n_components"}


def _init_params(cls):
    sig = inspect.signature(cls.__init__)
    return [p for name, p in sig.parameters.items() if name != "self"]


# ---------------------------------------------------------------------- glossary
@pytest.mark.parametrize("cls", ESTIMATORS, ids=IDS)
def test_glossary_names(cls):
    names = {p.name for p in _init_params(cls)}
    bad = {n: FORBIDDEN[n] for n in names & FORBIDDEN.keys()}
    assert not bad, f"{cls.__name__}: rename {bad} (docs/developers.rst glossary)"
    if "max_iter" in names:  # iterations of a solver come with their tolerance
        assert "tol" in names, f"{cls.__name__} has max_iter but no tol"
    assert not {"max_epochs", "max_steps"} <= names, (
        f"{cls.__name__}: training is counted either in epochs or in steps"
    )


@pytest.mark.parametrize("cls", ESTIMATORS, ids=IDS)
def test_torch_estimators_share_the_torch_parameters(cls):
    est = cls()
    torch_backed = issubclass(cls, TorchEstimatorMixin)
    assert get_skres_tags(est).torch == torch_backed
    if not torch_backed:
        return
    params = {p.name: p for p in _init_params(cls)}
    for name in ("device", "dtype", "random_state", "verbose"):
        assert name in params, f"{cls.__name__} lacks {name}"
    assert params["device"].default == "auto"
    assert params["random_state"].default is None
    assert params["verbose"].default == 0
    assert params["dtype"].default in ("float32", "float64")


@pytest.mark.parametrize("cls", ESTIMATORS, ids=IDS)
def test_verbose_and_n_jobs_where_fit_is_long_or_parallel(cls):
    names = {p.name for p in _init_params(cls)}
    if cls.__name__ in SLOW:
        assert "verbose" in names, f"{cls.__name__} needs verbose"
    if cls.__name__ in PARALLEL:
        assert "n_jobs" in names, f"{cls.__name__} needs n_jobs"
    if "n_jobs" in names:
        assert inspect.signature(cls).parameters["n_jobs"].default is None


def test_the_slow_and_parallel_lists_name_real_estimators():
    assert SLOW | PARALLEL <= set(IDS)


# ------------------------------------------------------------ keyword-only init
@pytest.mark.parametrize("cls", ESTIMATORS, ids=IDS)
def test_constructor_is_keyword_only(cls):
    params = _init_params(cls)
    positional = [
        p.name
        for p in params
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
    ]
    assert len(positional) <= 1, f"{cls.__name__}: {positional} are positional"
    if positional:
        assert positional[0] in POSITIONAL_OK, (
            f"{cls.__name__}: {positional[0]!r} must be keyword-only"
        )
        assert params[0].name == positional[0]
    assert not any(p.kind == p.VAR_KEYWORD for p in params)


# --------------------------------------------------------- declarative validation
@pytest.mark.parametrize("cls", ESTIMATORS, ids=IDS)
def test_every_parameter_is_declared(cls):
    declared = set(getattr(cls, "_parameter_constraints", {}))
    params = {p.name for p in _init_params(cls)}
    assert params - declared == set(), f"undeclared: {sorted(params - declared)}"
    assert declared - params == set(), f"not parameters: {sorted(declared - params)}"


@pytest.mark.parametrize("cls", ESTIMATORS, ids=IDS)
def test_no_hand_written_check_params(cls):
    assert not hasattr(cls, "_check_params")


def _invalid_values(constraints):
    """A value of a bad type, then one invalid value per constraint it can make."""
    values = [type("BadType", (), {})()]
    made = [make_constraint(c) for c in constraints]
    for constraint in made:
        try:
            value = generate_invalid_param_val(constraint)
        except NotImplementedError:
            continue
        # Skip values another constraint of the same parameter accepts.
        if not any(c.is_satisfied_by(value) for c in made):
            values.append(value)
    return values


def _param_cases():
    for cls in ESTIMATORS:
        for name, constraints in sorted(cls._parameter_constraints.items()):
            if constraints == "no_validation":
                continue
            for k, value in enumerate(_invalid_values(constraints)):
                yield pytest.param(cls, name, value, id=f"{cls.__name__}-{name}-{k}")


@pytest.mark.parametrize(("cls", "name", "value"), list(_param_cases()))
def test_invalid_parameter_is_named_in_the_error(cls, name, value):
    est = make_instance(cls)
    X, y, side = make_test_data(est, n_samples=20, n_features=4)
    est = clone(est).set_params(**{name: value})
    pattern = rf"The '{re.escape(name)}' parameter of {cls.__name__} must be"
    with pytest.raises(InvalidParameterError, match=pattern):
        est.fit(X, y, **side)


def test_every_declared_parameter_gets_an_invalid_value():
    covered = {(c.values[0], c.values[1]) for c in _param_cases()}
    declared = {
        (cls, name)
        for cls in ESTIMATORS
        for name, constraints in cls._parameter_constraints.items()
        if constraints != "no_validation"
    }
    assert declared == covered


@pytest.mark.parametrize("cls", ESTIMATORS, ids=IDS)
def test_valid_defaults_pass_validation(cls):
    cls()._validate_params()
    make_instance(cls)._validate_params()


def test_validation_error_is_both_value_and_type_error():
    from skres.causal import TMEXScorer

    with pytest.raises(ValueError, match="'alpha' parameter of TMEXScorer"):
        TMEXScorer(alpha=2.0).fit(np.ones((10, 2)), np.ones((10, 2)))
    with pytest.raises(TypeError, match="'ci_test' parameter of TMEXScorer"):
        TMEXScorer(ci_test=object()).fit(np.ones((10, 2)), np.ones((10, 2)))
