using System.Text.Json;
using System.Text.Json.Serialization;

namespace Switchboard.Transactions;

/// <summary>
/// A participant as a decision record lists it: the branch qualifier, the database's name and its target (host and database,
/// no credentials). Recovery forgets a decision only once every listed target has been looked at and holds no branch of it,
/// and it matches by target, not name, so a catalog that names the same server differently cannot fool it.
/// </summary>
internal sealed record RecordedParticipant(
    [property: JsonPropertyName("q")] string Qualifier,
    [property: JsonPropertyName("db")] string Database,
    [property: JsonPropertyName("t")] string Target,
    [property: JsonPropertyName("lr")] bool LastResource)
{
    public static string Serialize(IEnumerable<RecordedParticipant> participants) => JsonSerializer.Serialize(participants.ToList());

    /// <summary>The participants, or null when the text cannot be read (then the decision is never forgotten).</summary>
    public static IReadOnlyList<RecordedParticipant>? Parse(string json)
    {
        try
        {
            return JsonSerializer.Deserialize<List<RecordedParticipant>>(json);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
