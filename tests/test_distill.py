"""llmcourse.distill: the distillation loss against a float64 computation, its T**2 scaling, a short run."""

import pytest
import torch
import torch.nn.functional as F

from llmcourse import distill
from llmcourse.finetune import random_windows
from llmcourse.gpt import GPT, GPTConfig


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def reference_loss(student: torch.Tensor, teacher: torch.Tensor, T: float) -> torch.Tensor:
    """T**2 KL(teacher_T || student_T) per position, averaged, in float64 with F.kl_div."""
    V = student.shape[-1]
    s, t = student.double().reshape(-1, V) / T, teacher.double().reshape(-1, V) / T
    kl = F.kl_div(F.log_softmax(s, dim=-1), F.softmax(t, dim=-1), reduction="none").sum(-1)  # (N,)
    return T**2 * kl.mean()


@pytest.mark.parametrize("T", [0.5, 1.0, 2.0, 5.0])
def test_distillation_loss_is_t_squared_kl_of_the_softened_distributions(T):
    g = torch.Generator().manual_seed(0)
    student, teacher = 3 * torch.randn(2, 5, 11, generator=g), 3 * torch.randn(2, 5, 11, generator=g)
    loss = distill.distillation_loss(student, teacher, T)
    assert loss.dim() == 0
    torch.testing.assert_close(loss.double(), reference_loss(student, teacher, T), rtol=1e-5, atol=1e-6)
    # (B, T, V) and (N, V) give the same mean over positions
    torch.testing.assert_close(loss, distill.distillation_loss(student.reshape(10, 11), teacher.reshape(10, 11), T))


def test_distillation_loss_is_zero_only_when_the_distributions_agree():
    logits = torch.randn(4, 7)
    assert distill.distillation_loss(logits, logits + 3.0, 2.0).abs() < 1e-6  # a constant shift: same softmax
    assert distill.distillation_loss(logits, -logits, 2.0) > 0.1


def test_the_t_squared_factor_keeps_the_gradient_size_at_high_temperature():
    """Hinton et al.: at high T the gradient of KL_T is about (z_s - z_t) / (V T**2) for centred
    logits; times T**2 it no longer depends on T."""
    g = torch.Generator().manual_seed(1)
    N, V = 3, 8
    teacher = torch.randn(N, V, generator=g)
    student = torch.randn(N, V, generator=g, requires_grad=True)
    centred = lambda z: z - z.mean(-1, keepdim=True)  # noqa: E731
    expected = (centred(student.detach()) - centred(teacher)) / (N * V)  # the mean over N positions
    for T in (50.0, 200.0):
        (grad,) = torch.autograd.grad(distill.distillation_loss(student, teacher, T), student)
        torch.testing.assert_close(grad, expected, rtol=0.05, atol=2e-4)  # the same size at both temperatures


def test_the_teacher_gets_no_gradient():
    student, teacher = torch.randn(3, 6, requires_grad=True), torch.randn(3, 6, requires_grad=True)
    distill.distillation_loss(student, teacher, 2.0).backward()
    assert student.grad is not None and teacher.grad is None


def tiny_gpt(seed: int) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=12, block_size=16, n_layer=1, n_head=2, n_embd=16))


def test_distill_trains_every_student_on_the_same_batches():
    stream = torch.arange(400) % 12  # a repeating pattern: easy to learn
    held_out = random_windows(stream, 4, 8, torch.Generator().manual_seed(5))
    teacher = tiny_gpt(0)

    def run():
        students = {
            "hard": distill.Student(tiny_gpt(1)),
            "soft": distill.Student(tiny_gpt(1), temperature=2.0),
        }
        return distill.distill(
            students, teacher, stream, held_out, steps=12, batch_size=4, block_size=8, lr=1e-2, eval_every=5
        )

    curves = run()
    assert [step for step, _ in curves["hard"]] == [0, 5, 10, 12]
    assert curves["hard"][0] == curves["soft"][0]  # the same initial weights
    assert curves["hard"][-1][1] < curves["hard"][0][1]  # learnt the pattern
    assert curves["soft"][-1][1] != curves["hard"][-1][1]  # another target
    assert run() == curves  # seeded


def test_perplexity_is_exp_of_the_cross_entropy():
    model = tiny_gpt(0)
    x, y = torch.randint(12, (2, 8)), torch.randint(12, (2, 8))
    ce = F.cross_entropy(model(x)[0].flatten(0, 1), y.flatten())
    assert distill.perplexity(model, x, y) == pytest.approx(ce.exp().item(), rel=1e-5)
