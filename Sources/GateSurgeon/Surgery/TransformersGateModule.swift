import JSON

/// The Python module a gated model directory carries so that stock
/// transformers loads, trains and saves it: `AutoModelForCausalLM
/// .from_pretrained(dir, trust_remote_code=True)` builds transformers' own
/// class for the family and attaches the gate with module hooks (a
/// forward hook on q_proj keeps the paper layout's gate rows, a pre-hook on
/// the attention block computes a separate gate from its input, a pre-hook
/// on o_proj multiplies its input by `sigmoid(gate)`), so the class keeps
/// working as transformers revises its attention code. config.json's
/// `auto_map` names it. The fixtures generator loads every layout of every
/// family through it and records what transformers computed
/// (fixtures/reference/trainable/).
public enum TransformersGateModule {
    public static let fileName = "modeling_gated_attention.py"

    /// config.json's `auto_map` entries.
    public static let autoMap: JSONObject = [
        "AutoConfig": .string("modeling_gated_attention.GatedAttentionConfig"),
        "AutoModelForCausalLM": .string("modeling_gated_attention.GatedAttentionForCausalLM"),
    ]

    /// The transformers classes the module builds on for a gated config,
    /// or nil when no module is needed (no gate, or a family whose own
    /// class carries it: Qwen3.5) or none can express the model.
    ///
    /// The paper's layout is its Qwen3 class with switches; the stock class
    /// that computes the same is chosen by them
    /// (`GateInsertion.officialLayoutFamily`; the module adds o_proj's bias
    /// where they give one). The separate layout builds on the family's own class.
    public static func base(for config: ModelConfig) -> (config: String, model: String)? {
        guard let gate = config.gate else { return nil }
        switch gate.layout {
        case .qwen3Next:
            return nil
        case .separate:
            return (config.architecture.transformersConfigClass, config.architecture.transformersClass)
        case .gatedAttention:
            let architecture = GateInsertion.officialLayoutFamily(config)
            return (architecture.transformersConfigClass, architecture.transformersClass)
        }
    }

    /// The module's text for a gated config (see `base(for:)`).
    public static func text(for config: ModelConfig) -> String? {
        guard let base = base(for: config) else { return nil }
        return source(configClass: base.config, modelClass: base.model, modelType: config.architecture.modelTypes[0])
    }

    /// config.json for a directory output: the module's `auto_map` when
    /// the directory carries the module, and no stale entries naming it otherwise.
    static func configuring(_ config: JSONObject, withModule: Bool) -> JSONObject {
        var object = config
        var map = object["auto_map"]?.objectValue ?? [:]
        for key in autoMap.keys { map[key] = withModule ? autoMap[key] : nil }
        object["auto_map"] = map.count == 0 ? nil : .object(JSONObject(map.keys.sorted().map { ($0, map[$0]!) }))
        return object
    }

    static func source(configClass: String, modelClass: String, modelType: String) -> String {
        #"""
        """Attention output gates (Gated Attention, Qiu et al., Qwen 2025) on transformers' own
        \#(modelClass) class, written by gatesurgeon beside the checkpoint it gated, so that stock
        transformers loads, trains and saves it:

            from transformers import AutoModelForCausalLM
            model = AutoModelForCausalLM.from_pretrained("path/to/checkpoint", trust_remote_code=True)

        In every gated layer the attention output, the input of o_proj, is multiplied by
        sigmoid(x W_gate), x being the attention block's input: one gate value per head dimension
        (elementwise) or per head (headwise). Where W_gate is stored, config.json says:

        - the paper's layout (`elementwise_attn_output_gate` or `headwise_attn_output_gate`): extra rows
          of q_proj; per KV head group, the queries of the group's heads, then their gate rows;
        - the separate layout (`attn_output_gate_layout: "separate"`): self_attn.gate_proj [heads * head_dim,
          hidden] (elementwise) or self_attn.g_proj [heads, hidden] (headwise), in the layers
          `attn_output_gate_layers` lists (all when absent).

        transformers' attention code runs unchanged; module hooks attach the gate to it, so the class keeps
        working as transformers revises its attention implementations.
        """
        from functools import partial

        import torch
        from torch import nn
        from transformers import \#(configClass) as BaseConfig
        from transformers import \#(modelClass) as BaseForCausalLM


        class GatedAttentionConfig(BaseConfig):
            """\#(configClass) of a gated checkpoint (model_type as its config.json names it)."""

            model_type = "\#(modelType)"


        class GateLayout:
            """The gate config.json describes."""

            def __init__(self, config):
                self.heads = config.num_attention_heads
                self.kv_heads = getattr(config, "num_key_value_heads", None) or self.heads
                self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // self.heads
                elementwise = bool(getattr(config, "elementwise_attn_output_gate", False))
                headwise = bool(getattr(config, "headwise_attn_output_gate", False))
                self.fused = elementwise or headwise
                if self.fused:
                    self.headwise = headwise
                    layers = None
                    # The paper's Qwen3 class gives o_proj a bias together with q, k and v.
                    self.output_bias = bool(getattr(config, "qkv_bias", False))
                else:
                    self.headwise = getattr(config, "attn_output_gate_granularity", "elementwise") == "headwise"
                    layers = getattr(config, "attn_output_gate_layers", None)
                    self.output_bias = False
                self.layers = set(range(config.num_hidden_layers)) if layers is None else {int(i) for i in layers}
                self.per_head = 1 if self.headwise else self.head_dim
                self.rows = self.heads * self.per_head


        def _linear(reference, in_features, out_features, bias):
            return nn.Linear(in_features, out_features, bias=bias, device=reference.weight.device, dtype=reference.weight.dtype)


        def _split_fused_rows(attention, layout, module, args, output):
            """q_proj's output is [queries | gate] per KV group: keep the gate, pass the queries on."""
            groups, per_group = layout.kv_heads, layout.heads // layout.kv_heads
            shape = output.shape[:-1]
            queries, gate = output.view(*shape, groups, -1).split([per_group * layout.head_dim, per_group * layout.per_head], dim=-1)
            attention.gate_logits = gate.reshape(*shape, layout.rows)
            return queries.reshape(*shape, layout.heads * layout.head_dim)


        def _separate_gate_logits(attention, name, module, args, kwargs):
            """The gate of the attention block's input, before attention runs."""
            hidden_states = kwargs["hidden_states"] if "hidden_states" in kwargs else args[0]
            attention.gate_logits = getattr(attention, name)(hidden_states)


        def _gate_output(attention, layout, module, args):
            """o_proj's input times sigmoid(gate logits), per head dimension or per head."""
            (values,) = args
            gate = torch.sigmoid(attention.gate_logits)
            attention.gate_logits = None
            if layout.headwise:
                shape = values.shape
                values = (values.view(*shape[:-1], layout.heads, layout.head_dim) * gate.unsqueeze(-1)).view(shape)
            else:
                values = values * gate
            return (values,)


        def attach_gate(attention, layout, hidden_size):
            """Gives one attention module its gate weights and the hooks that apply them."""
            attention.gate_logits = None
            if layout.fused:
                query = attention.q_proj
                attention.q_proj = _linear(query, hidden_size, query.out_features + layout.rows, query.bias is not None)
                attention.q_proj.register_forward_hook(partial(_split_fused_rows, attention, layout))
                if layout.output_bias and attention.o_proj.bias is None:
                    output = attention.o_proj
                    attention.o_proj = _linear(output, output.in_features, output.out_features, True)
            else:
                name = "g_proj" if layout.headwise else "gate_proj"
                setattr(attention, name, _linear(attention.o_proj, hidden_size, layout.rows, False))
                attention.register_forward_pre_hook(partial(_separate_gate_logits, attention, name), with_kwargs=True)
            attention.o_proj.register_forward_pre_hook(partial(_gate_output, attention, layout))


        class GatedAttentionForCausalLM(BaseForCausalLM):
            """\#(modelClass) with attention output gates."""

            config_class = GatedAttentionConfig

            def __init__(self, config):
                super().__init__(config)
                layout = GateLayout(config)
                for index, layer in enumerate(self.model.layers):
                    if index in layout.layers:
                        attach_gate(layer.self_attn, layout, config.hidden_size)
                self.post_init()

            def train_only_gates(self):
                """Freezes every weight but the gates: the paper's cheapest continued-training setting.

                In the paper's layout the gate rows share q_proj with the queries; a gradient mask keeps the
                query rows fixed. Use an optimizer without weight decay, which would shrink them too.
                """
                layout = GateLayout(self.config)
                for parameter in self.parameters():
                    parameter.requires_grad_(False)
                for index, layer in enumerate(self.model.layers):
                    if index not in layout.layers:
                        continue
                    attention = layer.self_attn
                    if layout.fused:
                        weight = attention.q_proj.weight
                        mask = torch.zeros_like(weight)
                        grouped = mask.view(layout.kv_heads, -1, weight.shape[-1])
                        grouped[:, (layout.heads // layout.kv_heads) * layout.head_dim:] = 1
                        weight.requires_grad_(True)
                        weight.register_hook(lambda grad, mask=mask: grad * mask)
                    else:
                        getattr(attention, "g_proj" if layout.headwise else "gate_proj").weight.requires_grad_(True)
                return self

        """#
    }
}
