namespace Switchboard.Tests.Reflection;

public sealed class ChinookCorpusTests
{
    [Fact]
    public void The_corpus_is_found_next_to_the_repository()
    {
        var folder = Chinook.Folder;
        Assert.All(Chinook.ScriptNames, s => Assert.True(File.Exists(Path.Combine(folder, s)), s));
    }

    [Fact]
    public void Without_the_corpus_the_chinook_tests_fail_with_a_message_saying_so()
    {
        var empty = Directory.CreateTempSubdirectory("switchboard-no-corpus-");
        try
        {
            var error = Assert.Throws<InvalidOperationException>(() => Chinook.FindCorpus(Path.Combine(empty.FullName, "repo")));
            Assert.StartsWith("The Chinook corpus is missing: expected ../shared/corpora/chinook/", error.Message, StringComparison.Ordinal);
            Assert.Contains("Chinook_PostgreSql.sql", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            empty.Delete(recursive: true);
        }
    }

    [Fact]
    public void Pascal_case_names_map_to_the_snake_case_of_the_postgresql_script()
    {
        Assert.Equal(["invoice_line", "invoice_line_id", "media_type_id", "support_rep_id", "album"],
            new[] { "InvoiceLine", "InvoiceLineId", "MediaTypeId", "SupportRepId", "Album" }.Select(Chinook.SnakeCase));
    }
}
