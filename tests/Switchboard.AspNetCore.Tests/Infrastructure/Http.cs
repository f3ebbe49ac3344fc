using System.Net.Http.Json;
using System.Text.Json;

namespace Switchboard.AspNetCore.Tests.Infrastructure;

internal static class Http
{
    public static async Task<JsonElement> JsonAsync(this HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    public static Task<HttpResponseMessage> PostJsonAsync<T>(this HttpClient client, string path, T body) =>
        client.PostAsJsonAsync(path, body);

    /// <summary>Polls until <paramref name="done"/> holds or the deadline passes; returns the last response body.</summary>
    public static async Task<(int Status, string Body)> PollAsync(HttpClient client, string path, Func<int, string, bool> done, TimeSpan deadline)
    {
        var until = DateTime.UtcNow + deadline;
        while (true)
        {
            using var response = await client.GetAsync(path);
            var body = await response.Content.ReadAsStringAsync();
            if (done((int)response.StatusCode, body) || DateTime.UtcNow > until)
            {
                return ((int)response.StatusCode, body);
            }

            await Task.Delay(250);
        }
    }
}
