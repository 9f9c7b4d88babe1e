"""llmcourse.finetune: SFT labels and loss against Hugging Face, the instruction set, a short run."""

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel

from llmcourse import finetune as ft
from llmcourse.gpt import GPT, GPTConfig


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_mask_prompt_tokens():
    ids = torch.tensor([[5, 6, 7, 8, 0], [1, 2, 0, 3, 4]])
    mask = torch.tensor([[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]])
    labels = ft.mask_prompt_tokens(ids, torch.tensor([2, 1]), mask)
    assert labels.tolist() == [[-100, -100, 7, 8, -100], [-100, 2, 0, 3, 4]]
    assert ids.tolist() == [[5, 6, 7, 8, 0], [1, 2, 0, 3, 4]]  # unchanged
    assert ft.mask_prompt_tokens(ids, [0, 5]).tolist() == [[5, 6, 7, 8, 0], [-100] * 5]


def test_sft_loss_equals_hugging_faces_loss_with_the_labels():
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=20, n_positions=16, n_embd=16, n_layer=1, n_head=2)).eval()
    ids = torch.randint(1, 20, (3, 9))
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0
    mask[2, 4:] = 0
    labels = ft.mask_prompt_tokens(ids, torch.tensor([3, 2, 1]), mask)
    out = model(ids, attention_mask=mask, labels=labels)
    torch.testing.assert_close(ft.sft_loss(out.logits, labels), out.loss)


def test_instruction_set_holds_out_its_questions():
    train, test = ft.instruction_set(300, 40, seed=1)
    assert len(train) == 300 and len(test) == 40
    assert not {e.question for e in test} & {e.question for e in train}
    assert all(e.prompt.startswith("User: ") and e.prompt.endswith("\nAssistant:") for e in train)
    addition = [e for e in train + test if e.question.startswith("What is ") and " plus " in e.question]
    for e in addition:
        x, y = e.question.removeprefix("What is ").removesuffix("?").split(" plus ")
        assert e.answer == f"{int(x) + int(y)}."


class CharTokenizer:
    eos_token_id = 0

    def encode(self, text):
        return [1 + (ord(c) % 60) for c in text]

    def decode(self, ids):
        return "".join(chr(ord(" ") + i % 60) for i in ids)


def test_collate_finetune_and_answer_run():
    tok = CharTokenizer()
    train, test = ft.instruction_set(40, 4, seed=2)
    batch = ft.collate(tok, train[:3])
    for b, ex in enumerate(train[:3]):
        n = len(tok.encode(ex.prompt)) + len(tok.encode(ex.response)) + 1
        assert batch["attention_mask"][b].sum() == n and batch["prompt_lengths"][b] == len(tok.encode(ex.prompt))
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=64, block_size=256, n_layer=1, n_head=2, n_embd=16))
    losses = ft.finetune(model, tok, train, steps=15, batch_size=8, lr=3e-3, progress=False)
    assert len(losses) == 15 and losses[-1] < losses[0]
    accuracy, answers = ft.exact_match(model, tok, test)
    assert 0 <= accuracy <= 1 and len(answers) == 4
    assert ft.optimizer_state_bytes(model) == 2 * 4 * sum(p.numel() for p in model.parameters())
    assert ft.timed_steps(model, tok, train, steps=2, batch_size=4) > 0
