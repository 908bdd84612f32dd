import ArgumentParser
import GateSurgeon
import JSON

/// `gatesurgeon verify`: run two models on the same tokens and compare logits.
struct VerifyCommand: ConsoleCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Compare the logits of two models on the same tokens.",
        discussion: """
            A and B are .safetensors files, .gguf files or model directories with the same vocabulary; A is the \
            reference. Both run through the reference F32 forward pass and the logits are compared: max |a - b|, \
            NMSE (sum (a-b)^2 / sum a^2), mean KL divergence KL(softmax(a) || softmax(b)) per token, and top-1 \
            agreement. The per-layer report of both (first-token attention, max activation, mean gate score) is \
            printed too.

            Tokens come from --prompt TEXT or --prompt-file PATH (tokenized with A's tokenizer; when B has its \
            own and it tokenizes the text differently, a warning says so), --tokens, or --random-tokens N \
            (uniform, reproducible with --seed); the default is 32 random tokens with seed 0. The most likely \
            next tokens of both are printed.

            Without a threshold the models are only compared (result: compared). Exit status: 0 when every \
            given threshold holds, 1 when one fails (each failure is printed with its margin), 2 when the input \
            is bad (an unreadable or malformed model, mismatched vocabularies, token ids outside the vocabulary).

            Examples:
              gatesurgeon verify model/ gated/ --max-abs 1e-5
              gatesurgeon verify model/ m.Q4_K_M.gguf --prompt "Paris is" --min-top1 0.9
              gatesurgeon verify model/ model-q8_0.gguf --random-tokens 64 --max-kld 0.01
              gatesurgeon verify a.safetensors b.gguf --config-a config.json --json
            """
    )

    @Argument(help: "The reference model: a .safetensors file, a .gguf file or a model directory.")
    var a: String

    @Argument(help: "The model to check against it.")
    var b: String

    @OptionGroup(title: "Input") var input: PromptOptions

    @Option(parsing: .unconditional, help: ArgumentHelp("Use this many random token ids (default 32 when --tokens is not given).", valueName: "n"))
    var randomTokens: Int?

    @Option(parsing: .unconditional, help: ArgumentHelp("Seed of --random-tokens.", valueName: "s"))
    var seed: UInt64 = 0

    @OptionGroup(title: "Reporting") var report: ReportOptions
    @OptionGroup(title: "Threads") var threadOptions: ThreadOptions

    @OptionGroup(title: "Limits") var limits: ThresholdOptions

    @Option(help: ArgumentHelp("The config.json of A when it is safetensors (default: in or beside A).", valueName: "path"))
    var configA: String?

    @Option(help: ArgumentHelp("The config.json of B when it is safetensors (default: in or beside B).", valueName: "path"))
    var configB: String?

    /// Token count when neither --tokens nor --random-tokens is given.
    static let defaultRandomTokens = 32

    func validate() throws {
        if input.isGiven && randomTokens != nil {
            throw ValidationError("give either --random-tokens or --tokens/--prompt/--prompt-file, not both")
        }
        if let randomTokens, randomTokens < 1 || randomTokens > 1 << 20 {
            throw ValidationError("--random-tokens must be between 1 and 1048576")
        }
    }

    func run(console: Console) throws {
        let graphA = try ModelGraph(checkpoint: Checkpoint(path: a), configPath: configA)
        let graphB = try ModelGraph(checkpoint: Checkpoint(path: b), configPath: configB)
        let prompt = try input.resolve(for: graphA)
            ?? Prompt(ids: Verification.randomTokens(count: randomTokens ?? Self.defaultRandomTokens, vocabSize: graphA.config.vocabSize, seed: seed),
                      text: nil, tokenizer: nil)
        var warnings = Warnings(console: console)
        if let text = prompt.text, let tokenizerB = try Tokenizer(model: graphB) {
            let idsB = try tokenizerB.encode(text, addSpecialTokens: !input.noSpecialTokens)
            if idsB != prompt.ids {
                let first = zip(prompt.ids, idsB).enumerated().first { $1.0 != $1.1 }?.offset ?? min(prompt.ids.count, idsB.count)
                warnings.warn("B's tokenizer makes \(idsB.count) tokens of the prompt where A's makes \(prompt.ids.count) (first difference at token \(first)); both run A's")
            }
        }
        let ids = prompt.ids
        let layers = graphA.layers.count + graphB.layers.count
        let progress = ProgressReporter(console: console, label: "verify", total: layers, steps: layers, measure: .steps,
                                        quiet: report.quiet, delay: .seconds(1))
        let result = try Verification.compare(graphA, graphB, tokens: ids) { model, layer in
            let step = model == 0 ? layer : graphA.layers.count + layer
            progress.begin(step: step, done: step, item: "\(model == 0 ? "a" : "b") layer \(layer)")
        }
        progress.finish()
        let verificationReport = VerificationReport(result: result, pathA: a, pathB: b, thresholds: limits.overriding(nil) ?? VerificationThresholds(),
                                                    prompt: prompt, warnings: warnings.messages)
        if report.json {
            console.print(try verificationReport.json().serialized(.indented))
        } else {
            console.writeOutput(try verificationReport.text())
        }
        if !verificationReport.passed { throw VerificationFailed() }
    }
}
