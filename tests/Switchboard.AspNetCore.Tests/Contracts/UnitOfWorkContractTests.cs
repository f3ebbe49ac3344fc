using System.Net;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Switchboard.AspNetCore.Tests.Infrastructure;
using Switchboard.Extensions.DependencyInjection;

namespace Switchboard.AspNetCore.Tests.Contracts;

/// <summary>
/// Sessions per request over HTTP on real Kestrel, run against each kind of database: what is committed, what is rolled
/// back, and which session a keyed parameter gets. Rows are counted from outside the app, on connections of their own.
/// </summary>
public abstract class UnitOfWorkContractTests : IAsyncLifetime
{
    private RunningApp _app = null!;
    private SwitchboardCatalog _outside = null!;

    /// <summary>A URL for a fresh, empty database.</summary>
    protected abstract Task<string> NewDatabaseUrlAsync();

    protected HttpClient Client => _app.Client;

    public async Task InitializeAsync()
    {
        var main = await NewDatabaseUrlAsync();
        var other = await NewDatabaseUrlAsync();
        _outside = SwitchboardCatalog.CreateBuilder().AddDatabase("main", main).AddDatabase("other", other).Build();
        foreach (var name in new[] { "main", "other" })
        {
            await using var setup = _outside.OpenSession(name);
            await setup.ExecuteAsync("CREATE TABLE items (id INTEGER PRIMARY KEY, note VARCHAR(100) NOT NULL)");
            await setup.ExecuteAsync("INSERT INTO items (id, note) VALUES (0, @note)", new { note = "seed of " + name });
            await setup.CommitAsync();
        }

        _app = await RunningApp.StartAsync(
            builder =>
            {
                builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
                {
                    ["Databases:main:Url"] = main,
                    ["Databases:other:Url"] = other,
                });
                builder.Services.AddSwitchboard(builder.Configuration.GetSection("Databases"));
            },
            Map);
    }

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        await _outside.DisposeAsync();
    }

    private static void Map(WebApplication app)
    {
        static Task Insert(DatabaseSession session, int id, string note) =>
            session.ExecuteAsync("INSERT INTO items (id, note) VALUES (@id, @note)", new { id, note });

        app.MapPost("/ok/{id:int}", async (int id, [FromKeyedServices("main")] DatabaseSession main) =>
        {
            await Insert(main, id, "ok");
            return Results.Ok();
        }).WithUnitOfWork();

        app.MapPost("/throw/{id:int}", async Task<IResult> (int id, [FromKeyedServices("main")] DatabaseSession main) =>
        {
            await Insert(main, id, "throw");
            throw new InvalidOperationException("the handler failed after writing");
        }).WithUnitOfWork();

        app.MapPost("/problem/{id:int}", async (int id, [FromKeyedServices("main")] DatabaseSession main) =>
        {
            await Insert(main, id, "problem");
            return Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable);
        }).WithUnitOfWork();

        app.MapPost("/status/{id:int}", async (int id, HttpContext http, [FromKeyedServices("main")] DatabaseSession main) =>
        {
            await Insert(main, id, "status");
            http.Response.StatusCode = StatusCodes.Status500InternalServerError;
            return "failed";
        }).WithUnitOfWork();

        app.MapPost("/bad/{id:int}", async (int id, [FromKeyedServices("main")] DatabaseSession main) =>
        {
            await Insert(main, id, "bad");
            return Results.BadRequest();
        }).WithUnitOfWork();

        app.MapPost("/no-unit-of-work/{id:int}", async (int id, [FromKeyedServices("main")] DatabaseSession main) =>
        {
            await Insert(main, id, "forgotten");
            return Results.Ok();
        });

        app.MapPost("/manual/{id:int}", async (int id, [FromKeyedServices("main")] DatabaseSession main) =>
        {
            await Insert(main, id, "manual");
            await main.CommitAsync();
            return Results.Ok();
        });

        app.MapGroup("/group").WithUnitOfWork().MapPost("/{id:int}", async (int id, [FromKeyedServices("main")] DatabaseSession main) =>
        {
            await Insert(main, id, "group");
            return Results.Ok();
        });

        app.MapPost("/both/{id:int}", async (int id, bool fail, [FromKeyedServices("main")] DatabaseSession main,
            [FromKeyedServices("other")] DatabaseSession other) =>
        {
            await Insert(main, id, "both");
            await Insert(other, id, "both");
            return fail ? Results.StatusCode(500) : Results.Ok();
        }).WithUnitOfWork();

        app.MapGet("/keyed", async ([FromKeyedServices("main")] DatabaseSession main, [FromKeyedServices("MAIN")] DatabaseSession sameByAnotherCase,
            [FromKeyedServices("other")] DatabaseSession other, DatabaseSessionScope scope) => new
            {
                Same = ReferenceEquals(main, sameByAnotherCase) && ReferenceEquals(main, scope.Get("main")),
                Main = main.DatabaseName,
                MainSeed = await main.QuerySingleAsync<string>("SELECT note FROM items WHERE id = 0"),
                Other = other.DatabaseName,
                OtherSeed = await other.QuerySingleAsync<string>("SELECT note FROM items WHERE id = 0"),
                Instance = RuntimeHelpers.GetHashCode(main),
            });
    }

    private async Task<long> CountAsync(int id, string database = "main")
    {
        await using var session = _outside.OpenSession(database);
        return await session.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM items WHERE id = @id", new { id });
    }

    private int InUse(string database = "main") =>
        _app.Services.GetRequiredService<SwitchboardCatalog>().GetEngine(database).GetPoolStatistics().InUse;

    /// <summary>
    /// Connections in use once the request's scope is gone. Sessions left open are disposed with the scope, which ASP.NET
    /// Core does after the response has been sent, so the client can be a moment ahead of it.
    /// </summary>
    private async Task<int> InUseAfterRequestAsync(string database = "main")
    {
        var until = DateTime.UtcNow.AddSeconds(5);
        while (InUse(database) > 0 && DateTime.UtcNow < until)
        {
            await Task.Delay(20);
        }

        return InUse(database);
    }

    [Fact]
    public async Task A_successful_request_commits()
    {
        using var response = await Client.PostAsync("/ok/1", null);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, await CountAsync(1));
        Assert.Equal(0, InUse());
    }

    [Fact]
    public async Task An_exception_rolls_back_and_returns_the_connection()
    {
        using var response = await Client.PostAsync("/throw/2", null);
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal(0, await CountAsync(2));
        Assert.Equal(0, InUse());
    }

    [Theory]
    [InlineData("/problem/3", 503)]
    [InlineData("/status/4", 500)]
    public async Task A_5xx_answer_rolls_back(string path, int status)
    {
        using var response = await Client.PostAsync(path, null);
        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal(0, await CountAsync(int.Parse(path[(path.LastIndexOf('/') + 1)..])));
    }

    [Fact]
    public async Task A_4xx_answer_still_commits()
    {
        using var response = await Client.PostAsync("/bad/5", null);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(1, await CountAsync(5));
    }

    [Fact]
    public async Task Without_a_unit_of_work_uncommitted_work_is_rolled_back_when_the_request_ends()
    {
        using (var forgotten = await Client.PostAsync("/no-unit-of-work/6", null))
        {
            Assert.Equal(HttpStatusCode.OK, forgotten.StatusCode);
        }

        Assert.Equal(0, await CountAsync(6));
        Assert.Equal(0, await InUseAfterRequestAsync());
        using (var manual = await Client.PostAsync("/manual/7", null))
        {
            Assert.Equal(HttpStatusCode.OK, manual.StatusCode);
        }

        Assert.Equal(1, await CountAsync(7));
    }

    [Fact]
    public async Task A_unit_of_work_on_a_group_covers_its_endpoints()
    {
        using var response = await Client.PostAsync("/group/8", null);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, await CountAsync(8));
    }

    [Fact]
    public async Task Sessions_on_two_databases_commit_together_and_roll_back_together()
    {
        using (var ok = await Client.PostAsync("/both/9?fail=false", null))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        Assert.Equal(1, await CountAsync(9, "main"));
        Assert.Equal(1, await CountAsync(9, "other"));
        using (var failed = await Client.PostAsync("/both/10?fail=true", null))
        {
            Assert.Equal(HttpStatusCode.InternalServerError, failed.StatusCode);
        }

        Assert.Equal(0, await CountAsync(10, "main"));
        Assert.Equal(0, await CountAsync(10, "other"));
    }

    [Fact]
    public async Task Keyed_parameters_get_the_named_database_one_session_per_request()
    {
        using var first = await Client.GetAsync("/keyed");
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var body = await first.JsonAsync();
        Assert.True(body.GetProperty("same").GetBoolean());
        Assert.Equal("main", body.GetProperty("main").GetString());
        Assert.Equal("seed of main", body.GetProperty("mainSeed").GetString());
        Assert.Equal("other", body.GetProperty("other").GetString());
        Assert.Equal("seed of other", body.GetProperty("otherSeed").GetString());

        using var second = await Client.GetAsync("/keyed");
        Assert.NotEqual(body.GetProperty("instance").GetInt32(), (await second.JsonAsync()).GetProperty("instance").GetInt32());
        Assert.Equal(0, await InUseAfterRequestAsync("main"));
        Assert.Equal(0, await InUseAfterRequestAsync("other"));
    }
}
