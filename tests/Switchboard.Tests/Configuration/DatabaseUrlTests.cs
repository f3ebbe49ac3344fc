using FsCheck;
using FsCheck.Fluent;

namespace Switchboard.Tests.Configuration;

public sealed class DatabaseUrlTests
{
    [Fact]
    public void A_full_postgresql_url_parses_into_its_parts()
    {
        var url = DatabaseUrl.Parse("postgresql+npgsql://app:s%40cr%3At@db1.internal:6543/orders?sslmode=disable&application_name=shop%20api");
        Assert.Equal("postgresql", url.Backend);
        Assert.Equal("npgsql", url.Driver);
        Assert.Equal("app", url.UserName);
        Assert.Equal("s@cr:t", url.Password);
        Assert.Equal([new DatabaseHost("db1.internal", 6543)], url.Hosts);
        Assert.Equal("orders", url.Database);
        Assert.Equal([new("sslmode", "disable"), new("application_name", "shop api")], url.Query);
    }

    [Fact]
    public void Libpq_style_multi_host_urls_keep_every_host_in_order()
    {
        var url = DatabaseUrl.Parse("postgresql://u@h1:5432,h2:5433,h3/db");
        Assert.Equal([new DatabaseHost("h1", 5432), new DatabaseHost("h2", 5433), new DatabaseHost("h3", null)], url.Hosts);
        Assert.Null(url.Password);
    }

    [Fact]
    public void IPv6_hosts_are_written_in_brackets()
    {
        var url = DatabaseUrl.Parse("mysql://root@[::1]:3307/shop");
        Assert.Equal(new DatabaseHost("::1", 3307), Assert.Single(url.Hosts));
        Assert.Equal("mysql://root@[::1]:3307/shop", url.ToString());
    }

    [Theory]
    [InlineData("sqlite:///relative.db", "relative.db")]
    [InlineData("sqlite:////absolute/path.db", "/absolute/path.db")]
    [InlineData("sqlite:///data/with%20space.db", "data/with space.db")]
    [InlineData("sqlite://:memory:", ":memory:")]
    [InlineData("sqlite:///:memory:", ":memory:")]
    [InlineData("sqlite://", ":memory:")]
    public void Sqlite_urls_follow_the_sqlalchemy_convention(string text, string path)
    {
        var url = DatabaseUrl.Parse(text);
        Assert.Equal("sqlite", url.Backend);
        Assert.Equal(path, url.Database);
        Assert.Empty(url.Hosts);
    }

    [Theory]
    [InlineData("mariadb://u:p@h/db", "mariadb")]
    [InlineData("MySQL://u:p@h/db", "mysql")]
    [InlineData("postgres://u@h/db", "postgres")]
    public void The_scheme_is_case_insensitive(string text, string backend) => Assert.Equal(backend, DatabaseUrl.Parse(text).Backend);

    [Theory]
    [InlineData("", 0, "empty")]
    [InlineData("   ", 0, "empty")]
    [InlineData("localhost:5432/db", 0, "scheme://")]
    [InlineData("://u@h/db", 0, "scheme")]
    [InlineData("post gres://u@h/db", 4, "whitespace")]
    [InlineData("pg$://u@h/db", 2, "invalid character")]
    [InlineData("postgresql://u:pw@h:99999/db", 20, "out of range")]
    [InlineData("postgresql://u:pw@h:0/db", 20, "out of range")]
    [InlineData("postgresql://u:pw@h:54x2/db", 22, "not a number")]
    [InlineData("postgresql://u:pw@h:/db", 20, "port after ':' is empty")]
    [InlineData("postgresql://u:pw@/db", 18, "host is empty")]
    [InlineData("postgresql://:pw@h/db", 13, "user name")]
    [InlineData("postgresql://u:pw@h1,,h2/db", 21, "empty host")]
    [InlineData("postgresql://u:p%zzw@h/db", 16, "percent-escape")]
    [InlineData("postgresql://u:p%4@h/db", 16, "percent-escape")]
    [InlineData("postgresql://u@h/db/extra", 19, "unexpected '/'")]
    [InlineData("postgresql://u@h/db?a=1&&b=2", 24, "empty query")]
    [InlineData("postgresql://u@h/db?a=1&a=2", 24, "given twice")]
    [InlineData("postgresql://u@[::1/db", 15, "not closed")]
    [InlineData("sqlite://host/file.db", 9, "no host")]
    [InlineData("postgresql://u@h/%C3%28", 17, "UTF-8")]
    public void Malformed_urls_fail_at_the_right_position(string text, int position, string reason)
    {
        var error = Assert.Throws<DatabaseUrlException>(() => DatabaseUrl.Parse(text));
        Assert.Equal(position, error.Position);
        Assert.Contains(reason, error.Message);
        Assert.Contains($"position {position}", error.Message);
    }

    [Theory]
    [InlineData("postgresql://app:Sup3rSecret@h:99999/db")]
    [InlineData("postgresql://app:Sup3rSecret@h:x/db")]
    [InlineData("postgresql://app:Sup3rSecret@/db")]
    [InlineData("postgresql://app:Sup3rSecret%zz@h/db")]
    [InlineData("postgresql://app:Sup3rSecret#@h/db/x")]
    [InlineData("postgresql://app:Sup3rSecret/db")]
    [InlineData("postgresql://app:Sup3rSecret:more@h1,,h2/db")]
    [InlineData("postgresql://app@h/db?password=Sup3rSecret&a=1&a=2")]
    [InlineData("postgresql:/app:Sup3rSecret@h/db")]
    [InlineData("app:Sup3rSecret@h/db")]
    public void Error_messages_never_contain_the_password(string text)
    {
        var error = Assert.Throws<DatabaseUrlException>(() => DatabaseUrl.Parse(text));
        Assert.DoesNotContain("Sup3rSecret", error.Message);
        Assert.DoesNotContain("Sup3rSecret", error.ToString());
    }

    [Fact]
    public void ToString_masks_the_password_and_secret_query_parameters()
    {
        var url = DatabaseUrl.Parse("postgresql://app:hunter22@h/db?sslpassword=hunter33&sslmode=require");
        var text = url.ToString();
        Assert.DoesNotContain("hunter22", text);
        Assert.DoesNotContain("hunter33", text);
        Assert.Contains("app:****@h", text);
        Assert.Contains("sslmode=require", text);
    }

    [Fact]
    public void Property_encoded_components_round_trip()
    {
        var text = ArbMap.Default.GeneratorFor<NonEmptyString>().Select(s => s.Get);
        var port = Gen.Choose(1, 65535);
        var gen =
            from user in text
            from password in text
            from host in Gen.Elements("localhost", "db1.internal", "10.0.0.7", "my-db_01")
            from p in port
            from database in text
            select (user, password, host, p, database);
        Prop.ForAll(gen.ToArbitrary(), t =>
        {
            var raw = $"postgresql://{Uri.EscapeDataString(t.user)}:{Uri.EscapeDataString(t.password)}@{t.host}:{t.p}/{Uri.EscapeDataString(t.database)}";
            var url = DatabaseUrl.Parse(raw);
            return url.UserName == t.user && url.Password == t.password && url.Hosts.Single() == new DatabaseHost(t.host, t.p)
                && url.Database == t.database;
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Property_any_input_either_parses_or_fails_with_a_position_inside_it()
    {
        var inputs = Gen.OneOf(
            ArbMap.Default.GeneratorFor<string>().Where(s => s is not null),
            ArbMap.Default.GeneratorFor<string>().Where(s => s is not null).Select(s => "postgresql://" + s),
            ArbMap.Default.GeneratorFor<string>().Where(s => s is not null).Select(s => "mysql://u:p@" + s),
            ArbMap.Default.GeneratorFor<string>().Where(s => s is not null).Select(s => "sqlite://" + s));
        Prop.ForAll(inputs.ToArbitrary(), s =>
        {
            if (DatabaseUrl.TryParse(s, out var url, out var error))
            {
                return url is not null && error is null;
            }

            return error is not null && error.Position >= 0 && error.Position <= s.Length;
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Property_a_password_never_appears_in_any_error_or_ToString()
    {
        // Passwords of letters and digits (length >= 6), spliced into URLs that are broken in random ways.
        var password = Gen.Choose(6, 16).SelectMany(n => Gen.ArrayOf(Gen.Elements("abcdefghijkLMNOPQ0123456789".ToCharArray()), n))
            .Select(c => "Pw" + new string(c));
        var breakage = Gen.Elements("", ":99999", ":abc", ":", "/x/y", "?a&&b", "%zz", ",,", " ", "#");
        var gen = from pw in password
                  from b in breakage
                  from at in Gen.Elements("@", "", "@@")
                  select (pw, url: $"postgresql://app:{pw}{(b == "%zz" ? b : "")}{at}host{(b == "%zz" ? "" : b)}/db");
        Prop.ForAll(gen.ToArbitrary(), t =>
        {
            if (DatabaseUrl.TryParse(t.url, out var url, out var error))
            {
                return !url!.ToString().Contains(t.pw, StringComparison.Ordinal);
            }

            return !error!.Message.Contains(t.pw, StringComparison.Ordinal);
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(2000));
    }
}
