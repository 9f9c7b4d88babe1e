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


# ---------------------------------------------------------------- specialist, domains, continued pretraining


def test_bigger_number_set_holds_out_its_pairs_and_knows_the_answers():
    train, test = ft.bigger_number_set(n_train=300, n_test=40, seed=0)
    assert len(train) == 300 and len(test) == 40

    def numbers(ex):
        return tuple(map(int, ex.question.removeprefix("Which number is bigger, ").removesuffix("?").split(" or ")))

    assert not {frozenset(numbers(ex)) for ex in train} & {frozenset(numbers(ex)) for ex in test}
    for ex in train[:50] + test:
        x, y = numbers(ex)
        assert x != y and ex.answer == f"{max(x, y)}."
    task = ft.as_task_examples(test[:2])
    assert task[0].prompt == test[0].question and task[0].response == test[0].response
    assert test[0].prompt.startswith("User: ")


def test_domain_documents_are_of_one_kind_and_seeded():
    diaries = ft.domain_documents("diary", 5, seed=3)
    assert all(d.text.startswith("Dear diary,") for d in diaries)
    assert ft.domain_documents("diary", 5, seed=3) == diaries
    assert not any(d.text.startswith("Dear diary,") for d in ft.domain_documents("story", 5, seed=3))


def test_text_stream_puts_end_of_text_around_every_document():
    class Tok:
        eos_token_id = 0

        def encode(self, text):
            return [ord(c) - 96 for c in text]

    docs = [ft.data.Document("ab", 0.0), ft.data.Document("c", 0.0)]
    assert ft.text_stream(Tok(), docs).tolist() == [0, 1, 2, 0, 3, 0]


def test_continued_pretraining_lowers_the_loss_on_its_stream():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=10, block_size=16, n_layer=1, n_head=2, n_embd=16))
    stream = torch.arange(300) % 10
    losses = ft.continued_pretraining(model, stream, steps=30, batch_size=4, block_size=8, lr=1e-2)
    assert len(losses) == 30 and sum(losses[-5:]) < sum(losses[:5]) / 2
    assert not model.training


def test_cpu_threads_restores_the_thread_count():
    before = torch.get_num_threads()
    with ft.cpu_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_reward_model_starts_at_zero_and_learns_a_preference():
    class Tok:
        eos_token_id = 0

        def encode(self, text):
            return [1 + ord(c) % 20 for c in text]

    class Pair:
        def __init__(self, question, chosen, rejected):
            self.question, self.chosen, self.rejected = question, chosen, rejected

    torch.manual_seed(0)
    rm = ft.RewardModel(GPT(GPTConfig(vocab_size=24, block_size=64, n_layer=1, n_head=2, n_embd=16)))
    pairs = [Pair(f"q{k}", "yes" * (1 + k % 2), "no" * (1 + k % 3)) for k in range(8)]
    chosen, rejected = ft.pair_rewards(rm, Tok(), pairs)
    assert chosen.shape == rejected.shape == (8,) and not chosen.any() and not rejected.any()

    def bradley_terry(c, r):
        return -torch.nn.functional.logsigmoid(c - r).mean()

    losses = ft.train_reward_model(rm, Tok(), pairs, bradley_terry, steps=40, batch_size=8, lr=1e-2)
    assert losses[0] == pytest.approx(0.6931, abs=1e-3) and losses[-1] < 0.1
    with torch.no_grad():
        chosen, rejected = ft.pair_rewards(rm, Tok(), pairs)
    assert (chosen > rejected).all()
    # the reward of a row is read at its last token, whatever the padding after it
    batch = ft.collate(Tok(), [ft.Example("q", "yes"), ft.Example("q", "yes, yes, yes")])
    with torch.no_grad():
        alone = rm(
            batch["input_ids"][:1, : int(batch["attention_mask"][0].sum())],
            batch["attention_mask"][:1, : int(batch["attention_mask"][0].sum())],
        )
        padded = rm(batch["input_ids"], batch["attention_mask"])
    torch.testing.assert_close(padded[:1], alone)
