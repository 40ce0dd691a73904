"""numerical_gradient: central differences that agree with known derivatives."""
import pytest
import torch

from course_utils import numerical_gradient


def test_matches_the_gradient_of_a_quadratic_form():
    torch.manual_seed(0)
    A = torch.randn(3, 3, dtype=torch.float64)
    x = torch.randn(3, dtype=torch.float64)
    expected = (A + A.T) @ x  # d/dx of x^T A x
    torch.testing.assert_close(numerical_gradient(lambda v: v @ A @ v, x), expected, rtol=1e-6, atol=1e-8)


def test_keeps_the_shape_of_a_matrix_input_and_returns_float64():
    W = torch.arange(6.0).reshape(2, 3)
    gradient = numerical_gradient(lambda m: (m**2).sum(), W)
    assert gradient.shape == (2, 3) and gradient.dtype == torch.float64
    torch.testing.assert_close(gradient, 2 * W.double(), rtol=1e-6, atol=1e-6)


def test_agrees_with_autograd_on_a_non_polynomial_function():
    x = torch.tensor([0.3, -1.2, 2.0], dtype=torch.float64, requires_grad=True)
    (torch.sin(x) * torch.exp(x)).sum().backward()
    torch.testing.assert_close(
        numerical_gradient(lambda v: (torch.sin(v) * torch.exp(v)).sum(), x), x.grad, rtol=1e-6, atol=1e-8
    )


def test_never_modifies_the_input_even_a_float64_one():
    x = torch.tensor([1.0, 2.0], dtype=torch.float64)
    before = x.clone()
    numerical_gradient(lambda v: v.prod(), x)
    assert torch.equal(x, before)


def test_accepts_a_plain_python_number_from_f():
    gradient = numerical_gradient(lambda v: float(v[0]) ** 3, torch.tensor([2.0]))
    torch.testing.assert_close(gradient, torch.tensor([12.0], dtype=torch.float64), rtol=1e-6, atol=1e-6)


def test_non_scalar_output_is_an_error_that_says_how_to_fix_it():
    with pytest.raises(ValueError, match=r"must return a scalar.*\.sum\(\)"):
        numerical_gradient(lambda v: v * 2, torch.ones(3))


def test_integer_input_is_an_error_that_says_how_to_fix_it():
    with pytest.raises(TypeError, match=r"x\.double\(\)"):
        numerical_gradient(lambda v: v.sum(), torch.arange(3))
