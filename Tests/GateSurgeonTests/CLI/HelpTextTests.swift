import ArgumentParser
@testable import GateSurgeonCommands
import Testing

/// Every `--help` as an 80-column terminal or a pipe shows it. Help text is
/// written as paragraphs ArgumentParser wraps and examples of one line each;
/// the tests check properties of the rendering, not a snapshot, so another
/// ArgumentParser release that lays the screen out differently still passes.
@Suite struct HelpTextTests {
    static let commands: [any ParsableCommand.Type] = [GateSurgeonCommand.self] + GateSurgeonCommand.configuration.subcommands

    static func help(_ command: any ParsableCommand.Type) -> String {
        command == GateSurgeonCommand.self
            ? GateSurgeonCommand.helpMessage(columns: 80) : GateSurgeonCommand.helpMessage(for: command, columns: 80)
    }

    static func name(_ command: any ParsableCommand.Type) -> String { command.configuration.commandName ?? "?" }

    @Test func everyCommandIsChecked() {
        #expect(Self.commands.map(Self.name) == ["gatesurgeon", "inspect", "add-gate", "convert", "forward", "verify", "imatrix"])
    }

    /// No line is wider than the terminal, and no line is a single word
    /// left over from the line above (a sentence wrapped twice, or a
    /// paragraph a word too long). Headings (`Examples:`) are single words
    /// on purpose.
    @Test(arguments: 0..<7)
    func linesFitEightyColumnsWithoutOrphans(index: Int) throws {
        let command = Self.commands[index]
        let lines = Self.help(command).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count > 10)
        var previous = ""
        for line in lines {
            #expect(line.count <= 80, "\(Self.name(command)): \(line.count) columns: \(line)")
            let text = line.drop { $0 == " " }
            let orphan = !text.isEmpty && !text.contains(" ") && !text.hasSuffix(":") && !previous.isEmpty
            #expect(!orphan, "\(Self.name(command)): '\(text)' alone, after '\(previous)'")
            previous = String(text)
        }
    }

    /// The discussion is paragraphs of one source line each (ArgumentParser
    /// wraps them), and each example is one line of at most 78 columns that
    /// the rendered help shows whole.
    @Test(arguments: 0..<7)
    func examplesStayWholeAndParagraphsAreWrapped(index: Int) throws {
        let command = Self.commands[index]
        let discussion = command.configuration.discussion.split(separator: "\n", omittingEmptySubsequences: false)
        let examples = discussion.filter { $0.hasPrefix("  gatesurgeon ") }
        if command != GateSurgeonCommand.self { #expect(examples.count >= 2, "\(Self.name(command)) has examples") }
        let rendered = Set(Self.help(command).split(separator: "\n"))
        for example in examples {
            #expect(example.count <= 78, "\(example.count) columns: \(example)")
            #expect(rendered.contains(example), "split: \(example)")
        }
        for (line, next) in zip(discussion, discussion.dropFirst()) where !line.isEmpty && !next.isEmpty {
            // Within a paragraph only the examples (and their heading) take lines of their own.
            #expect(next.hasPrefix("  gatesurgeon "), "\(Self.name(command)): a line break inside a paragraph before '\(next)'")
        }
    }
}
