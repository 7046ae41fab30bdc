package datakit.bronze;

/**
 * One column of the rows a load lands, as the bronze side knows it.
 *
 * @param name       the column's name, as the rows carry it and the bronze table names it
 * @param bronzeType the type of the bronze column, which the rows' values have when they arrive
 * @param sourceType the type the column has where it was read, as {@code format_type} prints it
 */
public record LandingColumn(String name, String bronzeType, String sourceType) {
}
