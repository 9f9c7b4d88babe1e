"""you mask every token equal to the padding id (0) instead of the positions attention_mask marks: real text can contain that id (GPT-2 pads with its end-of-text token, which ends every response)"""

import torch


def mask_prompt_tokens(input_ids, prompt_lengths, attention_mask=None):
    positions = torch.arange(input_ids.shape[1])[None, :]
    lengths = torch.as_tensor(prompt_lengths)[:, None]
    labels = input_ids.clone()
    labels[positions < lengths] = -100
    labels[input_ids == 0] = -100
    return labels
