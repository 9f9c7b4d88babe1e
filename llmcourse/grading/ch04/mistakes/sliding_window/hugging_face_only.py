"""your sliding-window perplexity calls model(ids, labels=...) and reads .loss: model may be any causal LM logits_fn accepts (a plain function ids -> logits has no labels argument); compute the loss from the logits"""

import torch


def sliding_window_perplexity(model, input_ids, max_length, stride):
    seq_len = input_ids.size(1)
    nll_sum, n_tokens = 0.0, 0
    prev_end_loc = 0
    for begin_loc in range(0, seq_len, stride):
        end_loc = min(begin_loc + max_length, seq_len)
        trg_len = end_loc - prev_end_loc  # may be different from stride on the last loop
        ids = input_ids[:, begin_loc:end_loc]
        target_ids = ids.clone()
        target_ids[:, :-trg_len] = -100
        with torch.no_grad():
            outputs = model(ids, labels=target_ids)
        n = (target_ids[:, 1:] != -100).sum().item()
        nll_sum += outputs.loss.item() * n
        n_tokens += n
        prev_end_loc = end_loc
        if end_loc == seq_len:
            break
    return torch.exp(torch.tensor(nll_sum / n_tokens)).item()
