namespace Switchboard.Tests.Configuration;

public sealed class SecretMaskerTests
{
    [Theory]
    [InlineData("postgresql://app:hunter22@h/db", "postgresql://app:****@h/db")]
    [InlineData("postgresql://app:hun@ter22@h/db", "postgresql://app:****@h/db")]
    [InlineData("postgresql://app@h/db?password=hunter22&x=1", "postgresql://app@h/db?password=****&x=1")]
    [InlineData("postgresql://app:hunter22h:5432/db", "postgresql://app:****/db")]
    [InlineData("postgresql://h1:5432,h2:5433/db", "postgresql://h1:5432,h2:5433/db")]
    [InlineData("not a url with hunter22@", "<unreadable URL>")]
    public void Urls_are_masked_even_when_malformed(string url, string expected) => Assert.Equal(expected, SecretMasker.MaskUrl(url));

    [Theory]
    [InlineData("Host=h;Password=hunter22;Database=d", "hunter22")]
    [InlineData("Server=h;Pwd=hunter22", "hunter22")]
    [InlineData("Server=h;SSL Password=hunter22", "hunter22")]
    public void Connection_strings_are_masked(string connectionString, string secret)
    {
        var masked = SecretMasker.MaskConnectionString(connectionString);
        Assert.DoesNotContain(secret, masked);
        Assert.Contains("****", masked);
    }

    [Fact]
    public void Scrub_removes_plain_and_percent_encoded_secrets()
    {
        Assert.Equal("a **** b ****", SecretMasker.Scrub("a p@ss/w b p%40ss%2Fw", ["p@ss/w"]));
    }
}
